package compose

import (
	"context"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// BenchmarkApplyDevice writes one kit (three ISOs of 100 MiB of random
// bytes) to two loop devices both ways, in one run: "full" builds the whole
// kit into a scratch image and copies it (the old apply --device), "direct"
// builds the metadata only and streams the ISOs from the cache. It prints
// the scratch space, bytes written per device and wall time of each, and
// the ratios. Run with: go test -run '^$' -bench ApplyDevice -benchtime 1x ./compose
func BenchmarkApplyDevice(b *testing.B) {
	testenv.Tools(b, "xorriso")
	testenv.Loop(b)
	work := b.TempDir()
	var isos []string
	for i, name := range []string{"alpha", "beta", "gamma"} {
		iso := liveISO(b, work, name, name[:1])
		f, err := os.OpenFile(iso, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			b.Fatal(err)
		}
		f.Write(randomBytes(100<<20, uint64(i+1)))
		f.Close()
		isos = append(isos, iso)
	}
	m := kitWith(b, work, "firmware: [bios, uefi-x64]", isos...)
	ctx := context.Background()
	f := newFetcher(b, filepath.Join(work, "cache"))
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		b.Fatal(err)
	}
	srcs, err := pin.Sources(m, l)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.FetchAll(ctx, srcs); err != nil {
		b.Fatal(err)
	}
	devs := []device.Device{{Path: benchLoop(b, work, "one", 512<<20)}, {Path: benchLoop(b, work, "two", 512<<20)}}
	b.ResetTimer()
	for range b.N {
		run := func(direct bool) (scratch, written int64, took time.Duration) {
			dir := filepath.Join(work, "scratch")
			os.MkdirAll(dir, 0o755)
			defer os.RemoveAll(dir)
			p, err := MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			res, err := Build(ctx, p, BuildOptions{deferSources: direct})
			if err != nil {
				b.Fatal(err)
			}
			scratch, _ = allocatedBytes(p.Image)
			w := deviceWrite{force: true, files: streamed(res.deferred)}
			for _, z := range res.zeros {
				w.zeros = append(w.zeros, device.Extent{Offset: z.Offset, Length: z.Length})
			}
			out, err := writeDevices(ctx, p.Image, devs, w)
			if err != nil {
				b.Fatal(err)
			}
			return scratch, out[0].Written, time.Since(start)
		}
		fs, fw, ft := run(false)
		ds, dw, dt := run(true)
		fmt.Printf("apply --device, 300 MiB kit, 2 loop devices:\n"+
			"  full:   scratch %7.1f MiB, written %6.1f MiB per device, %v\n"+
			"  direct: scratch %7.1f MiB, written %6.1f MiB per device, %v\n"+
			"  direct/full: scratch %.3f, written %.2f, time %.2f\n",
			mb(fs), mb(fw), ft.Round(time.Millisecond), mb(ds), mb(dw), dt.Round(time.Millisecond),
			float64(ds)/float64(fs), float64(dw)/float64(fw), dt.Seconds()/ft.Seconds())
		b.ReportMetric(float64(ds)/float64(fs), "scratch-ratio")
		b.ReportMetric(dt.Seconds()/ft.Seconds(), "time-ratio")
	}
}

func mb(n int64) float64 { return float64(n) / (1 << 20) }

// benchLoop attaches a sparse file as a loop device.
func benchLoop(b *testing.B, dir, name string, size int64) string {
	backing := filepath.Join(dir, name+".stick")
	if err := os.Truncate(mustFile(b, backing), size); err != nil {
		b.Fatal(err)
	}
	dev := strings.TrimSpace(testenv.Run(b, "losetup", "-f", "--show", backing))
	b.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func mustFile(b *testing.B, p string) string {
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	return p
}

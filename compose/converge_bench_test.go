package compose

import (
	"context"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// BenchmarkConverge16GiB measures, in one run, bytes written and time of
// three applies on a 16 GiB kit (sixteen 1 GiB ISOs, sparse so that the
// benchmark needs little disk): a full rewrite (--recreate), a no-op apply
// and replacing one 1 GiB ISO in place. Targets: the no-op takes < 1 s and
// writes < 2 MiB; the replacement writes about 1 GiB.
//
//	go test -run '^$' -bench Converge16GiB -benchtime 1x -timeout 60m ./compose/
//
// COMPOSE_BENCH_DIR picks the disk (default: the system temp dir);
// COMPOSE_BENCH_ISOS the number of 1 GiB ISOs (default 16);
// COMPOSE_BENCH_STORAGE=data puts them on the ext4 data partition (the
// replace then goes through its journal). The cache and
// a full rewrite hold real bytes: it needs about twice the kit on disk.
func BenchmarkConverge16GiB(b *testing.B) {
	dir, err := os.MkdirTemp(os.Getenv("COMPOSE_BENCH_DIR"), "compose-converge-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	n := 16
	if v, err := strconv.Atoi(os.Getenv("COMPOSE_BENCH_ISOS")); err == nil && v > 1 {
		n = v
	}
	var isos []string
	for i := 0; i < n; i++ {
		isos = append(isos, sparseISO(b, dir, fmt.Sprintf("iso%02d", i), fmt.Sprintf("m%02d", i), 1<<30))
	}
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	ctx := context.Background()
	apply := func(what string, isos []string, opts BuildOptions) (time.Duration, int64) {
		m := benchKit(b, dir, isos)
		f := benchFetcher(b, cache)
		l, err := pin.ResolveLock(ctx, m, f)
		if err != nil {
			b.Fatal(err)
		}
		srcs, _ := pin.Sources(m, l)
		if _, err := f.FetchAll(ctx, srcs); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		p, err := MakePlan(ctx, m, l, f, img, PlanOptions{Recreate: opts.Recreate})
		if err != nil {
			b.Fatal(err)
		}
		res, err := Build(ctx, p, opts)
		if err != nil {
			b.Fatal(err)
		}
		el := time.Since(start)
		fmt.Printf("%-38s %8.3f s  %12d bytes written (%.1f MiB)  kit %.1f GiB\n", what, el.Seconds(), res.BytesWritten, float64(res.BytesWritten)/(1<<20), float64(res.Size)/(1<<30))
		return el, res.BytesWritten
	}
	for i := 0; i < b.N; i++ {
		os.Remove(img)
		fullT, fullW := apply("full rewrite (plan + build + verify)", isos, BuildOptions{Recreate: true})
		noopT, noopW := apply("no-op apply (plan + diff)", isos, BuildOptions{})
		next := append([]string{}, isos...)
		v2 := filepath.Join(dir, "v2")
		os.MkdirAll(v2, 0o755)
		next[1] = sparseISO(b, v2, "iso01", "n01", 1<<30)
		replT, replW := apply("replace one 1 GiB ISO in place", next, BuildOptions{})
		apply("no-op apply after the change", next, BuildOptions{})
		verdict("no-op: < 1 s and < 2 MiB", noopT < time.Second && noopW < 2<<20)
		verdict("replace: about 1 GiB (1 to 1.1 GiB)", replW >= 1<<30 && replW < 1<<30+1<<30/10)
		fmt.Printf("replace vs full rewrite: %.2f× the bytes, %.2f× the time\n", float64(replW)/float64(fullW), replT.Seconds()/fullT.Seconds())
		b.ReportMetric(noopT.Seconds(), "noop-s")
		b.ReportMetric(float64(noopW), "noop-bytes")
		b.ReportMetric(float64(replW), "replace-bytes")
		b.ReportMetric(float64(fullW), "full-bytes")
	}
}

func verdict(target string, ok bool) {
	v := "met"
	if !ok {
		v = "MISSED"
	}
	fmt.Printf("target %-38s %s\n", target, v)
}

// sparseISO is liveISO grown to size bytes with a hole: ISO 9660 readers
// stop at the volume's end, and the kit's bytes cost no disk.
func sparseISO(b testing.TB, dir, name, marker string, size int64) string {
	iso := liveISO(b, dir, name, marker)
	if err := os.Truncate(iso, size); err != nil {
		b.Fatal(err)
	}
	return iso
}

var benchDigests = map[string]string{}

// benchKit is kit with firmware bios and uefi-x64, hashing each ISO once.
func benchKit(b testing.TB, dir string, isos []string) *config.Manifest {
	var sb strings.Builder
	// Room for one replaced ISO beside the old one, as on a larger stick.
	fmt.Fprintf(&sb, "version: 1\nlabel: bench\nsize: %dGiB\nfirmware: [bios, uefi-x64]\nmenu:\n  console: serial\n", len(isos)+2)
	if s := os.Getenv("COMPOSE_BENCH_STORAGE"); s != "" {
		fmt.Fprintf(&sb, "storage: %s\n", s)
	}
	sb.WriteString("isos:\n")
	for _, iso := range isos {
		if benchDigests[iso] == "" {
			benchDigests[iso] = sha256File(b, iso)
		}
		fmt.Fprintf(&sb, "  - name: %s\n    path: %s\n    sha256: %q\n", strings.TrimSuffix(filepath.Base(iso), ".iso"), iso, benchDigests[iso])
	}
	path := filepath.Join(dir, "multiboot.yaml")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	m, err := config.Load(path)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchFetcher(b testing.TB, cache string) *fetch.Fetcher { return newFetcher(b, cache) }

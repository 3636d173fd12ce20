package device

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// BenchmarkWriteVsDD compares Write with `dd bs=4M oflag=direct
// conv=fsync` on the same loop device (itself direct-io on a file of the
// benchmark directory's disk), for a mostly allocated and a mostly empty
// image. Opt-in:
//
//	go test -run '^$' -bench WriteVsDD -benchtime 1x ./compose/device/
//
// COMPOSE_BENCH_DIR picks the disk (default: the test's temp dir) and
// COMPOSE_BENCH_MIB the image size (default 1024; the sparse one is 4×).
func BenchmarkWriteVsDD(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root for loop devices")
	}
	dir := os.Getenv("COMPOSE_BENCH_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	size := int64(1024)
	if v, err := strconv.ParseInt(os.Getenv("COMPOSE_BENCH_MIB"), 10, 64); err == nil && v >= 64 {
		size = v
	}
	size *= MiB
	full := benchImage(b, filepath.Join(dir, "full.img"), size, size-4*MiB)
	sparse := benchImage(b, filepath.Join(dir, "sparse.img"), 4*size, size/8)
	dev := benchLoop(b, filepath.Join(dir, "device.raw"), 4*size+64*MiB)
	for range b.N {
		for _, c := range []struct {
			name string
			img  string
		}{{"allocated", full}, {"sparse", sparse}} {
			// Runs alternate so that load from other users of the disk
			// hits both sides alike; medians are compared.
			t := medians(5,
				func() { ddWrite(b, c.img, dev) },
				func() { benchWrite(b, c.img, dev, DirectOn, true) },
				func() { benchWrite(b, c.img, dev, DirectOff, true) },
				func() { benchWrite(b, c.img, dev, DirectAuto, false) })
			dd, direct, buffered, verified := t[0], t[1], t[2], t[3]
			fi, _ := os.Stat(c.img)
			mibps := func(d time.Duration) float64 { return float64(fi.Size()) / float64(MiB) / d.Seconds() }
			b.Logf("%s image %d MiB: dd %v (%.0f MiB/s of image), Write direct %v (%.0f MiB/s), buffered %v, direct+verify %v; Write speed / dd speed = %.2f",
				c.name, fi.Size()/MiB, dd.Round(time.Millisecond), mibps(dd), direct.Round(time.Millisecond), mibps(direct),
				buffered.Round(time.Millisecond), verified.Round(time.Millisecond), dd.Seconds()/direct.Seconds())
			b.ReportMetric(dd.Seconds()/direct.Seconds(), c.name+"-speed-vs-dd")
		}
	}
}

// medians runs the functions in turn, n rounds, and returns each one's
// median time.
func medians(n int, fns ...func()) []time.Duration {
	times := make([][]time.Duration, len(fns))
	for range n {
		for i, fn := range fns {
			start := time.Now()
			fn()
			times[i] = append(times[i], time.Since(start))
		}
	}
	out := make([]time.Duration, len(fns))
	for i, ts := range times {
		slices.Sort(ts)
		out[i] = ts[len(ts)/2]
	}
	return out
}

// benchImage makes a GPT image of size bytes with data random bytes
// allocated after the first 2 MiB and holes elsewhere.
func benchImage(b *testing.B, path string, size, data int64) string {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("sgdisk", "-n", "1:2048:+1M", "-t", "1:ef02", "-n", "2:4096:0", "-t", "2:ef00", path).CombinedOutput(); err != nil {
		b.Fatalf("sgdisk: %v %s", err, out)
	}
	block := randomBytes(int(8*MiB), 7)
	for off := int64(0); off < data; off += int64(len(block)) {
		if _, err := f.WriteAt(block[:min(int64(len(block)), data-off)], 2*MiB+off); err != nil {
			b.Fatal(err)
		}
	}
	return path
}

func benchLoop(b *testing.B, path string, size int64) string {
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	if out, err := exec.Command("fallocate", "-l", strconv.FormatInt(size, 10), path).CombinedOutput(); err != nil {
		b.Fatalf("fallocate: %v %s", err, out)
	}
	out, err := exec.Command("losetup", "--show", "-f", "--direct-io=on", path).CombinedOutput()
	if err != nil {
		b.Fatalf("losetup: %v %s", err, out)
	}
	dev := string(out[:len(out)-1])
	b.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func ddWrite(b *testing.B, img, dev string) {
	if out, err := exec.Command("dd", "if="+img, "of="+dev, "bs=4M", "oflag=direct", "conv=fsync", "status=none").CombinedOutput(); err != nil {
		b.Fatalf("dd: %v %s", err, out)
	}
}

func benchWrite(b *testing.B, img, dev string, mode DirectMode, noVerify bool) {
	opts := WriteOptions{Check: CheckOptions{Force: true}, Direct: mode, NoVerify: noVerify}
	if r := Write(context.Background(), img, []string{dev}, opts, nil)[0]; !r.Complete {
		b.Fatalf("write: %v", r.Err)
	}
}

//go:build linux

package wim

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// BenchmarkSplitVsCopy splits a real uncompressed WIM (COMPOSE_BENCH_WIM_GIB
// GiB, default 2; parts of at most a third of it) with Split (files to
// files: the kernel copies the resources) and with WritePart through a
// plain io.Writer (every byte through its buffers), and copies
// the same file with `dd bs=4M conv=fsync` and with `cp` + `sync` (cp copies
// in the kernel), alternating, three rounds each,
// the source's cached pages dropped before every run; it prints the best
// time of each and the ratios of the plain copies' times to each (target >= 0.8). Both sync what they
// write. It writes several GiB, so it runs only when asked for:
//
//	go test -run '^$' -bench SplitVsCopy -benchtime 1x -timeout 30m ./compose/wim/
func BenchmarkSplitVsCopy(b *testing.B) {
	testenv.Tools(b, "wimcapture", "wimappend", "dd")
	gib := int64(2)
	if s := os.Getenv("COMPOSE_BENCH_WIM_GIB"); s != "" {
		gib, _ = strconv.ParseInt(s, 10, 64)
	}
	dir := b.TempDir()
	tree := filepath.Join(dir, "tree")
	sparseTree(b, tree, int(gib*4), 256<<20)
	src := filepath.Join(dir, "install.wim")
	capture(b, src, "none", []string{tree})
	os.RemoveAll(tree)
	st, _ := os.Stat(src)
	out := filepath.Join(dir, "out")
	var split, user, copy, cp time.Duration = 1 << 62, 1 << 62, 1 << 62, 1 << 62
	for b.Loop() {
		for range 3 {
			copy = min(copy, timed(b, src, out, func() {
				testenv.Run(b, "dd", "if="+src, "of="+filepath.Join(out, "copy.wim"), "bs=4M", "conv=fsync", "status=none")
			}))
			cp = min(cp, timed(b, src, out, func() {
				testenv.Run(b, "sh", "-c", `cp "$1" "$2" && sync "$2"`, "sh", src, filepath.Join(out, "copy.wim"))
			}))
			split = min(split, timed(b, src, out, func() {
				if _, err := Split(src, out, "install.swm", st.Size()/3+1); err != nil {
					b.Fatal(err)
				}
			}))
			user = min(user, timed(b, src, out, func() { splitUserspace(b, src, out, st.Size()/3+1) }))
		}
	}
	mb := float64(st.Size()) / 1e6
	b.ReportMetric(cp.Seconds()/split.Seconds(), "cp/Split")
	b.ReportMetric(cp.Seconds()/user.Seconds(), "cp/WritePart")
	rate := func(d time.Duration) string { return fmt.Sprintf("%.2f s (%.0f MB/s)", d.Seconds(), mb/d.Seconds()) }
	fmt.Printf("split %.0f MB: Split %s, WritePart to an io.Writer %s, dd %s, cp+sync %s\n",
		mb, rate(split), rate(user), rate(copy), rate(cp))
	fmt.Printf("ratio (target >= 0.8): cp/Split %.2f, dd/Split %.2f; cp/WritePart %.2f, dd/WritePart %.2f\n",
		cp.Seconds()/split.Seconds(), copy.Seconds()/split.Seconds(), cp.Seconds()/user.Seconds(), copy.Seconds()/user.Seconds())
}

// splitUserspace writes the parts through a plain io.Writer (what a FAT32
// writer gets), so every byte passes through WritePart's buffers.
func splitUserspace(b *testing.B, src, out string, max int64) {
	f, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	plan, err := PlanSplit(f, st.Size(), max, "install.swm")
	if err != nil {
		b.Fatal(err)
	}
	for i, part := range plan.Parts {
		dst, err := os.Create(filepath.Join(out, part.Name))
		if err != nil {
			b.Fatal(err)
		}
		if err := plan.WritePart(struct{ io.Writer }{dst}, f, i); err != nil {
			b.Fatal(err)
		}
		if err := dst.Sync(); err != nil {
			b.Fatal(err)
		}
		dst.Close()
	}
}

// timed runs f with src's pages out of the cache and an empty out
// directory, and returns how long f took.
func timed(b *testing.B, src, out string, f func()) time.Duration {
	os.RemoveAll(out)
	if err := os.MkdirAll(out, 0o755); err != nil {
		b.Fatal(err)
	}
	sf, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	sf.Sync()
	_ = unix.Fadvise(int(sf.Fd()), 0, 0, unix.FADV_DONTNEED) // read the disk, not the page cache
	sf.Close()
	start := time.Now()
	f()
	d := time.Since(start)
	os.RemoveAll(out)
	return d
}

package wim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// BenchmarkSplitVsCopy splits a real uncompressed WIM (COMPOSE_BENCH_WIM_GIB
// GiB, default 2; parts of at most a third of it) with Split, and copies
// the same file with `dd bs=4M conv=fsync` and with `cp` + `sync` (cp copies
// in the kernel), alternating, three rounds each,
// the source's cached pages dropped before every run; it prints the best
// time of each and the ratios dd/Split and cp/Split (target >= 0.8). Both sync what they
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
	var split, copy, cp time.Duration = 1 << 62, 1 << 62, 1 << 62
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
		}
	}
	mb := float64(st.Size()) / 1e6
	b.ReportMetric(copy.Seconds()/split.Seconds(), "ratio")
	fmt.Printf("split %.0f MB: Split %.2f s (%.0f MB/s), dd %.2f s (%.0f MB/s), cp+sync %.2f s (%.0f MB/s); ratio dd/Split %.2f, cp/Split %.2f (target >= 0.8)\n",
		mb, split.Seconds(), mb/split.Seconds(), copy.Seconds(), mb/copy.Seconds(), cp.Seconds(), mb/cp.Seconds(),
		copy.Seconds()/split.Seconds(), cp.Seconds()/split.Seconds())
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

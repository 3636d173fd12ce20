//go:build linux

package compose

import (
	"context"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
	"golang.org/x/sys/unix"
)

// BenchmarkVerifyVsSha256sum measures compose's Verify against sha256sum
// over the same bytes: a kit of N ISOs of 1 GiB of random bytes (default
// 3; COMPOSE_BENCH_VERIFY_GIB sets N), so that every byte of the image is
// real and every read reaches the disk. Neither side reads from the page
// cache: Verify reads the image with O_DIRECT; sha256sum reads each ISO's
// byte range of the image through `dd bs=4M` piped, buffered (with the
// kernel's readahead, as sha256sum reads a file) after the image's cached
// pages were dropped (the range is found by reading through the ESP and
// checked: its sha256sum must be the pinned digest). They alternate three
// times, so that neither profits from the other's place in the host's
// caches; the best time of each counts. It prints each run, MB/s and the
// ratio (> 1: Verify is faster); the target is ≥ 0.9. `dd iflag=direct
// of=/dev/null` over the same ranges gives the disk's own speed. Verify also reads the boot files and the menu (a
// few MiB), which the ratio charges to it. Where openssl is installed,
// `dd | openssl dgst -sha256` runs beside them: it hashes with the CPU's
// SHA instructions, as Go's crypto/sha256 does and coreutils' sha256sum
// does not, so it shows how much of the ratio is the hash and how much
// the reading.
//
// With the ring of read buffers cut to one (reading and hashing taking
// turns) it runs Verify once more, to show what the overlap is worth.
//
//	go test -run '^$' -bench VerifyVsSha256sum -benchtime 1x -timeout 30m ./compose/
//
// COMPOSE_BENCH_DIR picks the disk (default: the system temp dir); it
// needs about twice the kit's size free (the ISOs and the image).
func BenchmarkVerifyVsSha256sum(b *testing.B) {
	testenv.Tools(b, "xorriso", "sha256sum", "dd")
	dir, err := os.MkdirTemp(os.Getenv("COMPOSE_BENCH_DIR"), "compose-verify-bench-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	n := 3
	if v, err := strconv.Atoi(os.Getenv("COMPOSE_BENCH_VERIFY_GIB")); err == nil && v > 0 {
		n = v
	}
	var isos []string
	for i := range n {
		isos = append(isos, randomISO(b, dir, fmt.Sprintf("iso%02d", i), 1<<30, uint64(i+1)))
	}
	m := benchKit(b, dir, isos)
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	ctx := context.Background()
	f := benchFetcher(b, cache)
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		b.Fatal(err)
	}
	p, err := MakePlan(ctx, m, l, f, img)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Build(ctx, p, BuildOptions{NoVerify: true}); err != nil {
		b.Fatal(err)
	}
	ranges := isoRanges(b, img)
	_, err = exec.LookPath("openssl")
	openssl := err == nil // a second reference where installed
	b.ResetTimer()
	for range b.N {
		var vt, st, ot, rt []time.Duration
		var read int64
		var vcpu, scpu time.Duration
		for round := range 3 {
			start, c := time.Now(), cpuTime(syscall.RUSAGE_SELF)
			vs, err := Verify(ctx, VerifyOptions{Targets: []string{img}})
			if err != nil || !vs[0].OK || !vs[0].Direct {
				b.Fatalf("verify: %v", err)
			}
			vt, read = append(vt, time.Since(start)), vs[0].BytesRead
			vcpu += cpuTime(syscall.RUSAGE_SELF) - c
			c = cpuTime(syscall.RUSAGE_CHILDREN)
			st = append(st, hashRanges(b, img, ranges, "sha256sum"))
			scpu += cpuTime(syscall.RUSAGE_CHILDREN) - c
			line := fmt.Sprintf("round %d: compose verify %6.2f s, dd | sha256sum %6.2f s", round+1, vt[round].Seconds(), st[round].Seconds())
			if openssl {
				ot = append(ot, hashRanges(b, img, ranges, "openssl dgst -sha256 -r"))
				line += fmt.Sprintf(", dd | openssl dgst -sha256 %6.2f s", ot[round].Seconds())
			}
			rt = append(rt, hashRanges(b, img, ranges, ""))
			fmt.Printf("%s, dd iflag=direct of=/dev/null %6.2f s\n", line, rt[round].Seconds())
		}
		v, s := slices.Min(vt), slices.Min(st)
		var isoBytes int64
		for _, r := range ranges {
			isoBytes += r.size
		}
		fmt.Printf("best of 3: compose verify %d bytes in %.2f s (%.0f MB/s), dd | sha256sum %d bytes in %.2f s (%.0f MB/s)\n",
			read, v.Seconds(), float64(read)/v.Seconds()/1e6, isoBytes, s.Seconds(), float64(isoBytes)/s.Seconds()/1e6)
		ratio := s.Seconds() / v.Seconds()
		fmt.Printf("verify speed / sha256sum speed: %.2f×; the disk reads %.0f MB/s (dd iflag=direct, no hashing)\n", ratio, float64(isoBytes)/slices.Min(rt).Seconds()/1e6)
		fmt.Printf("CPU time per run (user+system, load-independent): compose verify %.2f s, dd | sha256sum %.2f s\n", vcpu.Seconds()/3, scpu.Seconds()/3)
		verdict("verify ≥ 0.9× sha256sum", ratio >= 0.9)
		b.ReportMetric(ratio, "speed-ratio")
		if openssl {
			o := slices.Min(ot)
			fmt.Printf("verify speed / openssl speed (SHA-NI, as Go's sha256): %.2f× (openssl %.0f MB/s)\n", o.Seconds()/v.Seconds(), float64(isoBytes)/o.Seconds()/1e6)
		}

		serial := func() time.Duration {
			f, err := os.Open(img)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			start := time.Now()
			if _, err := converge.Verify(ctx, f, nil, converge.VerifyOptions{Ring: 1}); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}()
		fmt.Printf("without overlap (one buffer: read, then hash): %.2f s, %.2f× the overlapped time\n", serial.Seconds(), serial.Seconds()/v.Seconds())
	}
	out, _ := exec.Command("uptime").Output()
	fmt.Printf("uptime: %s", out)
}

// cpuTime is the user and system time of the process or its waited-for
// children.
func cpuTime(who int) time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(who, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// randomISO is liveISO followed by size bytes of random data: ISO 9660
// readers stop at the volume's end, and no byte of it is a hole.
func randomISO(b testing.TB, dir, name string, size int64, seed uint64) string {
	iso := liveISO(b, dir, name, name)
	f, err := os.OpenFile(iso, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{byte(seed)})
	buf := make([]byte, 64<<20)
	for left := size; left > 0; left -= int64(len(buf)) {
		r.Read(buf)
		if _, err := f.Write(buf[:min(int64(len(buf)), left)]); err != nil {
			b.Fatal(err)
		}
	}
	return iso
}

// byteRange is one ISO's bytes in the image, with its pinned digest.
type byteRange struct {
	off, size int64
	digest    string
}

// isoRanges finds each ISO's bytes in the image: the offsets of its first
// and last byte, which must be size-1 apart (one run of clusters).
func isoRanges(b testing.TB, img string) []byteRange {
	tg, err := converge.ReadTarget(img)
	if err != nil || !tg.Kit {
		b.Fatalf("%s: %v", img, err)
	}
	var out []byteRange
	for _, iso := range tg.State.ISOs {
		first := physOffset(b, img, iso.Path, false, 0)
		last := physOffset(b, img, iso.Path, false, iso.Size-1)
		if last-first != iso.Size-1 {
			b.Fatalf("%s is not one run in the image (%d to %d for %d bytes)", iso.Path, first, last, iso.Size)
		}
		out = append(out, byteRange{off: first, size: iso.Size, digest: iso.Digest})
	}
	return out
}

// hashRanges runs dd | tool over each range, one after the other as
// Verify reads them, once the image's cached pages are dropped, and checks
// each digest (tool prints it first, as sha256sum and openssl dgst -r do).
// With no tool, dd reads with O_DIRECT into /dev/null.
func hashRanges(b testing.TB, img string, ranges []byteRange, tool string) time.Duration {
	f, err := os.Open(img)
	if err != nil {
		b.Fatal(err)
	}
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) // read the disk, not the page cache
	f.Close()
	start := time.Now()
	for _, r := range ranges {
		cmd := fmt.Sprintf("dd if=%s iflag=skip_bytes,count_bytes bs=4M skip=%d count=%d status=none | %s", img, r.off, r.size, tool)
		if tool == "" {
			cmd = fmt.Sprintf("dd if=%s iflag=direct,skip_bytes,count_bytes bs=4M skip=%d count=%d status=none of=/dev/null", img, r.off, r.size)
		}
		out, err := exec.Command("sh", "-c", cmd).Output()
		if err != nil {
			b.Fatalf("%s: %v", cmd, err)
		}
		if got, _, _ := strings.Cut(string(out), " "); tool != "" && got != r.digest {
			b.Fatalf("%s: %s, want %s", cmd, got, r.digest)
		}
	}
	return time.Since(start)
}

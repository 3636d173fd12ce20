//go:build linux

package wim

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestSplitOver4GiB splits a real 4.2 GiB uncompressed WIM at the FAT32
// limit and has wimlib check the two parts: wimverify reads every resource
// (SHA-1 of each), and wimextract --ref streams every file, whose digest
// must equal the source file's. The source tree is sparse files (unique
// content at their ends, holes between), so the tree costs no disk; the
// WIM and its parts (8.5 GiB) are removed when the test ends.
func TestSplitOver4GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 8.5 GiB: a long test")
	}
	testenv.Tools(t, "wimcapture", "wimappend", "wimverify", "wimextract")
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err == nil && fs.Bavail*uint64(fs.Bsize) < 12<<30 {
		testenv.Skip(t, "needs 12 GiB free in %s, has %d MiB", dir, fs.Bavail*uint64(fs.Bsize)>>20)
	}
	tree := filepath.Join(dir, "tree")
	files := sparseTree(t, tree, 9, 480<<20)
	small := filepath.Join(dir, "small")
	makeTree(t, small, 3, 10)
	src := filepath.Join(dir, "install.wim")
	capture(t, src, "none", []string{tree, small})
	st, _ := os.Stat(src)
	if st.Size() <= MaxFAT32File {
		t.Fatalf("WIM of %d bytes: not over FAT32's limit", st.Size())
	}
	out := filepath.Join(dir, "parts")
	os.MkdirAll(out, 0o755)
	paths, err := Split(src, out, "install.swm", MaxFAT32File)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Fatalf("%d parts from %d bytes", len(paths), st.Size())
	}
	checkParts(t, src, paths, MaxFAT32File)
	os.Remove(src)
	ref := "--ref=" + filepath.Join(out, "install*.swm")
	testenv.Run(t, "wimverify", paths[0], ref)
	for name, want := range files {
		cmd := exec.Command("wimextract", paths[0], "1", "/"+name, "--to-stdout", ref)
		got := extractDigest(t, cmd)
		if got != want {
			t.Errorf("%s: extracted sha256 %x, source %x", name, got, want)
		}
	}
}

// sparseTree writes n sparse files of size bytes, each with 64 KiB of
// random data at its start and end, and returns their sha256 by name.
func sparseTree(t testing.TB, dir string, n int, size int64) map[string][32]byte {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	rng := rand.New(rand.NewPCG(42, 42))
	sums := map[string][32]byte{}
	for i := range n {
		name := fmt.Sprintf("f%d.bin", i)
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		head, tail := randBytes(rng, 64<<10), randBytes(rng, 64<<10)
		f.Write(head)
		f.WriteAt(tail, size-int64(len(tail)))
		f.Close()
		h := sha256.New()
		h.Write(head)
		io.CopyN(h, zeros{}, size-2*int64(len(head)))
		h.Write(tail)
		sums[name] = [32]byte(h.Sum(nil))
	}
	return sums
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func extractDigest(t *testing.T, cmd *exec.Cmd) [32]byte {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	_, cerr := io.Copy(h, stdout)
	if err := cmd.Wait(); err != nil || cerr != nil {
		t.Fatalf("%v: %v %v\n%s", cmd.Args, err, cerr, stderr)
	}
	return [32]byte(h.Sum(nil))
}

type limitedBuffer []byte

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if len(*b) < 1<<16 {
		*b = append(*b, p...)
	}
	return len(p), nil
}

package directio

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"unsafe"
)

// TestReadAtAnyOffset compares direct reads at unaligned offsets and
// lengths, up to and past the end, with the file's bytes.
func TestReadAtAnyOffset(t *testing.T) {
	want := make([]byte, 9<<20+123) // spans more than one internal read
	rng := rand.New(rand.NewSource(1))
	rng.Read(want)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if errors.Is(err, ErrRefused) {
		t.Fatalf("the test's temp dir refuses O_DIRECT: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	size := int64(len(want))
	for i := 0; i < 60; i++ {
		off := rng.Int63n(size)
		n := rng.Intn(6 << 20)
		if i%10 == 0 {
			off, n = 0, len(want)
		}
		b := make([]byte, n)
		got, err := r.ReadAt(b, off)
		end := min(off+int64(n), size)
		if int64(got) != end-off || !bytes.Equal(b[:got], want[off:end]) {
			t.Fatalf("ReadAt(%d bytes, %d) = %d bytes, %v: content differs", n, off, got, err)
		}
		if short := off+int64(n) > size; short != (err == io.EOF) || !short && err != nil {
			t.Fatalf("ReadAt(%d bytes, %d): %v", n, off, err)
		}
	}
}

func TestAlignedBuf(t *testing.T) {
	for _, n := range []int{1, 4096, 1<<20 + 7} {
		b := AlignedBuf(n)
		if len(b) != n || cap(b) != n || addr(b)%Align != 0 {
			t.Fatalf("AlignedBuf(%d): len %d cap %d at %#x", n, len(b), cap(b), addr(b))
		}
	}
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(&b[0])) }

// TestOpenFileReadsTheOpenFile: once a file is open, OpenFile reads that
// file even after its path was given to another one.
func TestOpenFileReadsTheOpenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	want := bytes.Repeat([]byte("written"), 4096)
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(path, path+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Repeat([]byte("another"), 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := OpenFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]byte, len(want))
	if n, err := r.ReadAt(got, 0); n != len(want) || !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes (%v) of another file than the one open: %.14q…", n, err, got)
	}
}

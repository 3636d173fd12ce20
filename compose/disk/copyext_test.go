package disk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// copied is a streamed File that Build places through Copy: wrong is
// what Copy writes instead of data, to see Verify catch it.
func copied(t *testing.T, path string, data, wrong []byte) File {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, append([]byte("lead"), wrong...), 0o644); err != nil {
		t.Fatal(err)
	}
	f := streamed(path, data)
	f.Copy = func(dst *os.File, ext []Extent) error {
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		return CopyExtents(dst, ext, in, 4)
	}
	return f
}

// TestVolumeCopy: files placed through File.Copy (CopyExtents from a range
// of a host file, or ExtentWriter) read back as Open gives them when Build
// verifies, carry no digest in the Result, and a Copy that writes other
// bytes than Open's is reported as a mismatch.
func TestVolumeCopy(t *testing.T) {
	big, small := pattern(3<<20+5, 3), pattern(70<<10, 4)
	spec := volumeSpec(0)
	w := streamed("/sources/boot.wim", small)
	w.Copy = func(dst *os.File, ext []Extent) error {
		_, err := io.Copy(ExtentWriter(dst, ext), bytes.NewReader(small))
		return err
	}
	spec.Volumes[0].Files = append(spec.Volumes[0].Files, copied(t, "/sources/install.wim", big, big), w)
	spec.Verify = true
	img, r := build(t, spec)
	checkImage(t, img, r.Layout)
	for _, f := range r.Files {
		if f.Path == "/sources/install.wim" && f.SHA256 != "" {
			t.Errorf("copied file recorded digest %s", f.SHA256)
		}
	}
	if _, ok := r.Digests()["3:/sources/install.wim"]; ok {
		t.Error("Digests lists a copied file")
	}
	bad := append([]byte(nil), big...)
	bad[len(bad)/2] ^= 1
	spec.Volumes[0].Files = append(volumeSpec(0).Volumes[0].Files, copied(t, "/sources/install.wim", big, bad))
	_, err := Build(context.Background(), filepath.Join(t.TempDir(), "kit.img"), spec, nil)
	if !errors.Is(err, ErrMismatch) {
		t.Fatalf("Copy wrote a flipped byte: Build returned %v, want ErrMismatch", err)
	}
}

// TestExtentWriter: sequential writes land in the ranges in order, across
// their boundaries, and a write past their end fails.
func TestExtentWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "img"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := ExtentWriter(f, []Extent{{Offset: 10, Length: 3}, {Offset: 2, Length: 4}})
	for _, s := range []string{"ab", "cdef", "g"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, 13)
	f.ReadAt(got, 0)
	if want := "\x00\x00defg\x00\x00\x00\x00abc"; string(got) != want {
		t.Errorf("image %q, want %q", got, want)
	}
	if _, err := w.Write([]byte("h")); err == nil {
		t.Error("a write past the ranges succeeded")
	}
}

package udf

import (
	"bytes"
	"io/fs"
	"os"
	"testing"
)

// TestContiguous: a genisoimage file's Contiguous offset holds its bytes in
// the image; empty, embedded and partly unrecorded files are not
// contiguous.
func TestContiguous(t *testing.T) {
	img := genisoimage(t, sourceTree(t, false))
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	u := openImage(t, img)
	for name, want := range map[string]bool{"big.bin": true, "straddle.bin": true, "one.txt": true, "empty": false} {
		f, err := u.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		off, ok := f.(*File).Contiguous()
		if ok != want {
			t.Errorf("%s: contiguous %v, want %v", name, ok, want)
			continue
		}
		data, _ := fs.ReadFile(u, name)
		if ok && !bytes.Equal(raw[off:off+int64(len(data))], data) {
			t.Errorf("%s: the image's bytes at %d are not the file's", name, off)
		}
	}
	s, err := openBytes(buildSynth(2048))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"embedded.txt", "big.bin", "sub"} {
		f, err := s.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := f.(*File).Contiguous(); ok {
			t.Errorf("synthetic %s reported contiguous", name)
		}
	}
}

package isoimage

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// testdata/malformed holds xorriso-built ISOs with a few random bytes changed
// that panic go-diskfs v1.9.4 while compose inspects them (found by a random
// mutation search, kept gzipped); each must give ErrMalformedISO.
func malformedISOs(t testing.TB) map[string][]byte {
	paths, err := filepath.Glob("testdata/malformed/*.iso.gz")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no malformed ISOs: %v", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		z, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(z)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

func TestMalformedISOsAreErrors(t *testing.T) {
	for name, b := range malformedISOs(t) {
		_, err := inspectBytes(b)
		if !errors.Is(err, ErrMalformedISO) || !bytes.Contains([]byte(err.Error()), []byte("fuzz.iso")) {
			t.Errorf("%s: want ErrMalformedISO naming the ISO, got %v", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

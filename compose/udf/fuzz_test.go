package udf

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
)

// FuzzOpen opens hostile images and reads everything in them, as compose
// inspect does: no panic, no endless loop, every failure an error. Seeds:
// the synthetic metadata-partition images (512- and 2048-byte blocks) and,
// when genisoimage is installed, a small UDF bridge image.
func FuzzOpen(f *testing.F) {
	f.Add(buildSynth(512))
	f.Add(buildSynth(2048))
	if _, err := exec.LookPath("genisoimage"); err == nil {
		dir := f.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "t", "sources"), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "t", "sources", "boot.wim"), []byte("x"), 0o644); err != nil {
			f.Fatal(err)
		}
		iso := filepath.Join(dir, "b.iso")
		if out, err := exec.Command("genisoimage", "-quiet", "-udf", "-o", iso, filepath.Join(dir, "t")).CombinedOutput(); err != nil {
			f.Fatalf("genisoimage: %v %s", err, out)
		}
		b, err := os.ReadFile(iso)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := openBytes(b)
		if err != nil {
			return
		}
		readAll(t, u, ".", 0, new(int))
	})
}

// readAll reads every file below dir, to a depth and a count that keep a
// looping image finite, checking that errors are errors, not panics.
func readAll(t *testing.T, u *FS, dir string, depth int, seen *int) {
	if depth > 8 {
		return
	}
	es, err := u.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range es {
		if *seen++; *seen > 2000 {
			return
		}
		p := path.Join(dir, e.Name())
		if e.IsDir() {
			readAll(t, u, p, depth+1, seen)
			continue
		}
		if _, err := e.Info(); err != nil {
			continue
		}
		f, err := u.Open(p)
		if err != nil {
			continue
		}
		buf := make([]byte, 4096)
		fl := f.(*File)
		for _, off := range []int64{0, fl.Size() - 1, fl.Size() / 2} {
			if _, err := fl.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, ErrMalformed) && !errors.Is(err, fs.ErrInvalid) {
				var pe *fs.PathError
				if !errors.As(err, &pe) {
					t.Fatalf("%s at %d: %v", p, off, err)
				}
			}
		}
	}
}

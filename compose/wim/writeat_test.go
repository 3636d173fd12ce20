package wim

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestWritePartAt places every part at its own offset in one image file
// (the kernel copy) and in a memory WriterAt (the buffered copy), with
// and without integrity tables: each region holds exactly the bytes Split
// writes for that part, and the bytes around it are untouched.
func TestWritePartAt(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, 21, 30)
	for _, extra := range [][]string{nil, {"--check"}} {
		name := fmt.Sprint("none", extra)
		t.Run(name, func(t *testing.T) {
			work := t.TempDir()
			src := filepath.Join(work, "install.wim")
			capture(t, src, "none", []string{tree}, extra...)
			st, _ := os.Stat(src)
			max := st.Size()/3 + 4096
			paths, err := Split(src, work, "install.swm", max)
			if err != nil {
				t.Fatal(err)
			}
			f, _ := os.Open(src)
			defer f.Close()
			plan, err := PlanSplit(f, st.Size(), max, "install.swm")
			if err != nil {
				t.Fatal(err)
			}
			img, err := os.Create(filepath.Join(work, "image"))
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			size := int64(len(plan.Parts)+1) * (max + 8192)
			fill := bytes.Repeat([]byte{0xa5}, int(size))
			img.Write(fill)
			mem := &memAt{b: bytes.Clone(fill)}
			// the WIM inside another file, as in an ISO: the kernel copy at
			// the section's offset
			raw, _ := os.ReadFile(src)
			outer := filepath.Join(work, "outer")
			os.WriteFile(outer, append(bytes.Repeat([]byte{7}, 777), raw...), 0o644)
			of, _ := os.Open(outer)
			defer of.Close()
			sec := io.NewSectionReader(of, 777, st.Size())
			img2, err := os.Create(filepath.Join(work, "image2"))
			if err != nil {
				t.Fatal(err)
			}
			defer img2.Close()
			img2.Write(fill)
			at := func(i int) int64 { return 4096 + int64(i)*(max+8192) + int64(i)*511 }
			for i := range plan.Parts {
				if err := plan.WritePartAt(img, at(i), f, i); err != nil {
					t.Fatal(err)
				}
				if err := plan.WritePartAt(mem, at(i), f, i); err != nil {
					t.Fatal(err)
				}
				if err := plan.WritePartAt(img2, at(i), sec, i); err != nil {
					t.Fatal(err)
				}
			}
			got, _ := os.ReadFile(img.Name())
			got2, _ := os.ReadFile(img2.Name())
			for what, b := range map[string][]byte{"file": got, "memory": mem.b, "section": got2} {
				want := bytes.Clone(fill)
				for i, p := range paths {
					part, _ := os.ReadFile(p)
					copy(want[at(i):], part)
				}
				if !bytes.Equal(b, want) {
					t.Errorf("%s: the image differs from the parts Split wrote placed at their offsets", what)
				}
			}
		})
	}
}

type memAt struct{ b []byte }

func (m *memAt) WriteAt(p []byte, off int64) (int, error) { return copy(m.b[off:], p), nil }

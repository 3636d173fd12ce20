package disk

import (
	"fmt"
	"io"
	"os"
)

// placeCopy places a file through its Copy (see File.Copy).
func (b *builder) placeCopy(p *Partition, f File, ext []Extent) error {
	if err := f.Copy(b.f, ext); err != nil {
		return fmt.Errorf("placing %s: %w", f.Path, err)
	}
	b.done += f.Size
	b.progress(Event{Kind: EventPlace, Path: f.Path, Partition: p.Index, Done: f.Size, Total: f.Size, AllDone: b.done, AllTotal: b.total})
	b.placed = append(b.placed, Placed{Path: f.Path, Partition: p.Index, Size: f.Size, Extents: ext})
	return nil
}

// CopyExtents copies the bytes of src from offset off into dst's ranges
// ext, as many as the ranges hold. Each range is an io.CopyN between two
// *os.File, which Go turns into copy_file_range(2): the bytes stay in the
// kernel.
func CopyExtents(dst *os.File, ext []Extent, src *os.File, off int64) error {
	for _, e := range ext {
		if _, err := src.Seek(off, io.SeekStart); err != nil {
			return err
		}
		if _, err := dst.Seek(e.Offset, io.SeekStart); err != nil {
			return err
		}
		if _, err := io.CopyN(dst, src, e.Length); err != nil {
			return fmt.Errorf("copying %d bytes at %d: %w", e.Length, off, err)
		}
		off += e.Length
	}
	return nil
}

// ExtentWriter writes sequentially into dst's ranges ext, in order, and
// fails past their end.
func ExtentWriter(dst *os.File, ext []Extent) io.Writer { return &extentWriter{dst: dst, ext: ext} }

type extentWriter struct {
	dst *os.File
	ext []Extent
	in  int64 // bytes written into ext[0]
}

func (w *extentWriter) Write(b []byte) (int, error) {
	n := 0
	for len(b) > n {
		if len(w.ext) == 0 {
			return n, fmt.Errorf("write of %d bytes past the file's clusters", len(b)-n)
		}
		k := min(int64(len(b)-n), w.ext[0].Length-w.in)
		if _, err := w.dst.WriteAt(b[n:n+int(k)], w.ext[0].Offset+w.in); err != nil {
			return n, err
		}
		n += int(k)
		if w.in += k; w.in == w.ext[0].Length {
			w.ext, w.in = w.ext[1:], 0
		}
	}
	return n, nil
}

package wim

import (
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	"github.com/usbkit/compose/config/atomicfile"
)

// copyBuffer is the size of the reads WritePart issues against the source;
// it holds two.
const copyBuffer = 4 << 20

// WritePart streams part i of the plan to w, reading its resources from
// src, the WIM the plan was made from. It writes exactly Parts[i].Size
// bytes, in order, and holds two copy buffers in memory.
func (p *SplitPlan) WritePart(w io.Writer, src io.ReaderAt, i int) error {
	part := &p.Parts[i]
	cw := &checkWriter{w: w, end: part.checkEnd}
	if part.checkEnd > 0 {
		cw.h = sha1.New()
	}
	bufs := [][]byte{make([]byte, min(copyBuffer, part.Size)), make([]byte, min(copyBuffer, part.Size))}
	for _, piece := range part.Pieces {
		var err error
		switch piece.Kind {
		case FromSource:
			err = copyPiece(cw, src, piece, bufs)
		case Generated:
			_, err = cw.Write(piece.Data)
		case IntegrityTable:
			_, err = cw.Write(cw.table())
		}
		if err != nil {
			return fmt.Errorf("writing %s: %w", part.Name, err)
		}
	}
	if cw.n != part.Size {
		return fmt.Errorf("writing %s: wrote %d bytes, planned %d", part.Name, cw.n, part.Size)
	}
	return nil
}

// WritePartAt writes part i of the plan into w at off (a part's place in
// an image file, say), as WritePart does. When w and src are files and the
// part has no integrity table, the kernel copies the resources.
func (p *SplitPlan) WritePartAt(w io.WriterAt, off int64, src io.ReaderAt, i int) error {
	return p.WritePart(&atWriter{w: w, off: off}, src, i)
}

// atWriter writes sequentially into an io.WriterAt from an offset.
type atWriter struct {
	w   io.WriterAt
	off int64
}

func (a *atWriter) Write(b []byte) (int, error) {
	n, err := a.w.WriteAt(b, a.off)
	a.off += int64(n)
	return n, err
}

// copyPiece copies a source range to the part: in the kernel when both
// are files and no integrity table needs the bytes, else through bufs.
func copyPiece(cw *checkWriter, src io.ReaderAt, p Piece, bufs [][]byte) error {
	if cw.h == nil {
		done, err := kernelCopy(cw.w, src, p.SrcOffset, p.Length)
		cw.n += done
		if err != nil || done == p.Length {
			return err
		}
		p.SrcOffset, p.Length = p.SrcOffset+done, p.Length-done
	}
	return copyRange(cw, src, p.SrcOffset, p.Length, bufs)
}

// copyRange copies n bytes of src at off to w, reading the next buffer
// while the last one is written: the source and the target are often
// different disks, or the same disk with room for both.
func copyRange(w io.Writer, src io.ReaderAt, off, n int64, bufs [][]byte) error {
	type chunk struct {
		b   []byte
		off int64
		err error
	}
	free, full := make(chan []byte, len(bufs)), make(chan chunk, len(bufs))
	for _, b := range bufs {
		free <- b
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(full)
		for end := off + n; off < end; {
			var buf []byte
			select {
			case buf = <-free:
			case <-done:
				return
			}
			b := buf[:min(int64(len(buf)), end-off)]
			_, err := src.ReadAt(b, off)
			full <- chunk{b, off, err}
			if err != nil {
				return
			}
			off += int64(len(b))
		}
	}()
	for c := range full {
		if c.err != nil {
			if errors.Is(c.err, io.EOF) {
				c.err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("reading the WIM at offset %d: %w", c.off, c.err)
		}
		if _, err := w.Write(c.b); err != nil {
			return err
		}
		free <- c.b[:cap(c.b)]
	}
	return nil
}

// checkWriter counts what passes and, when end > 0, hashes the bytes from
// the end of the header to end in integrity chunks.
type checkWriter struct {
	w      io.Writer
	n      int64
	end    int64
	h      hash.Hash
	inSum  int64 // bytes in h
	hashes [][sha1.Size]byte
}

func (c *checkWriter) Write(b []byte) (int, error) {
	if c.h != nil {
		c.hash(b)
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *checkWriter) hash(b []byte) {
	start, stop := c.n, c.n+int64(len(b))
	lo, hi := max(start, HeaderSize), min(stop, c.end)
	for lo < hi {
		take := min(hi-lo, integrityChunk-c.inSum)
		c.h.Write(b[lo-start : lo-start+take])
		c.inSum += take
		lo += take
		if c.inSum == integrityChunk || lo == c.end {
			c.flush()
		}
	}
}

func (c *checkWriter) flush() {
	var sum [sha1.Size]byte
	c.h.Sum(sum[:0])
	c.hashes = append(c.hashes, sum)
	c.h.Reset()
	c.inSum = 0
}

// table is the integrity table of what was hashed: size, entry count,
// chunk size, then one SHA-1 per chunk.
func (c *checkWriter) table() []byte {
	b := make([]byte, 12, 12+sha1.Size*len(c.hashes))
	binary.LittleEndian.PutUint32(b, uint32(12+sha1.Size*len(c.hashes)))
	binary.LittleEndian.PutUint32(b[4:], uint32(len(c.hashes)))
	binary.LittleEndian.PutUint32(b[8:], integrityChunk)
	for _, s := range c.hashes {
		b = append(b, s[:]...)
	}
	return b
}

// Split splits the WIM at path into parts of at most maxPart bytes in
// dir, named after name ("install.swm"), and returns their paths. Each
// part is written to a temporary name, synced and renamed; on error no
// part is left behind.
func Split(path, dir, name string, maxPart int64) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	paths, err := splitTo(f, st.Size(), dir, name, maxPart)
	if err != nil {
		return nil, fmt.Errorf("splitting %s: %w", path, err)
	}
	return paths, nil
}

func splitTo(r io.ReaderAt, size int64, dir, name string, maxPart int64) ([]string, error) {
	plan, err := PlanSplit(r, size, maxPart, name)
	if err != nil {
		return nil, err
	}
	var done []string
	for i, part := range plan.Parts {
		dst := filepath.Join(dir, part.Name)
		if err := writeFile(dst, func(w io.Writer) error { return plan.WritePart(w, r, i) }); err != nil {
			for _, d := range done {
				os.Remove(d)
			}
			return nil, err
		}
		done = append(done, dst)
	}
	return done, nil
}

// writeFile writes dst through a synced temporary sibling renamed over it.
func writeFile(dst string, write func(io.Writer) error) error {
	tmp, err := atomicfile.CreateTemp(dst, "."+filepath.Base(dst)+".*")
	if err != nil {
		return err
	}
	err = write(tmp)
	if err == nil {
		err = atomicfile.Commit(tmp, dst)
	} else {
		tmp.Close()
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

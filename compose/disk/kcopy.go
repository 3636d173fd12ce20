package disk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

const (
	seekData  = 3 // SEEK_DATA
	seekHole  = 4 // SEEK_HOLE
	copyPiece = 64 << 20
)

// kernelCopy copies a host file whose digest the caller already knows into
// its FAT extents without passing the bytes through this process: each
// piece is an io.CopyN between two *os.File, which Go turns into
// copy_file_range(2). Holes in the source (found with SEEK_DATA/SEEK_HOLE)
// are skipped; the image starts sparse, so they read as zeros.
func (b *builder) kernelCopy(ctx context.Context, src *os.File, size int64, ext []Extent, progress func(int64)) error {
	for off := int64(0); off < size; {
		data, hole, err := nextData(src, off, size)
		if err != nil {
			return err
		}
		for p := data; p < hole; {
			if err := ctx.Err(); err != nil {
				return err
			}
			n := min(copyPiece, hole-p)
			if err := b.copyAt(src, p, n, ext); err != nil {
				return err
			}
			p += n
			progress(p)
		}
		off = hole
	}
	progress(size)
	return nil
}

// nextData returns the next data range at or after off, [size, size) when
// only a hole is left. File systems without SEEK_DATA report all data.
func nextData(src *os.File, off, size int64) (int64, int64, error) {
	data, err := src.Seek(off, seekData)
	switch {
	case errors.Is(err, syscall.ENXIO):
		return size, size, nil
	case err != nil:
		return off, size, nil
	}
	hole, err := src.Seek(data, seekHole)
	if err != nil || hole > size {
		hole = size
	}
	return min(data, size), hole, nil
}

// copyAt copies n source bytes at file offset p to where the extents put
// them in the image.
func (b *builder) copyAt(src *os.File, p, n int64, ext []Extent) error {
	var base int64
	for _, e := range ext {
		for n > 0 && p >= base && p < base+e.Length {
			k := min(n, base+e.Length-p)
			if _, err := src.Seek(p, io.SeekStart); err != nil {
				return err
			}
			if _, err := b.f.Seek(e.Offset+p-base, io.SeekStart); err != nil {
				return err
			}
			if _, err := io.CopyN(b.f, src, k); err != nil {
				return fmt.Errorf("copying at %d: %w", p, err)
			}
			p, n = p+k, n-k
		}
		base += e.Length
	}
	if n > 0 {
		return fmt.Errorf("copy at %d beyond the file's clusters", p)
	}
	return nil
}

package directio

import (
	"errors"
	"fmt"
	"io"
	"os"
	"unsafe"
)

// Align is the offset, length and memory alignment of every direct read.
const Align = 4096

// ErrRefused is matched (errors.Is) when a file cannot be opened for
// direct I/O; the error says why.
var ErrRefused = errors.New("direct I/O refused")

// maxRead bounds the aligned buffer a Reader keeps.
const maxRead = 4 << 20

// AlignedBuf returns n bytes whose start is aligned for O_DIRECT.
func AlignedBuf(n int) []byte {
	b := make([]byte, n+Align)
	off := int(uintptr(unsafe.Pointer(&b[0])) & (Align - 1))
	if off != 0 {
		off = Align - off
	}
	return b[off : off+n : off+n]
}

// Reader reads a file opened with O_DIRECT at any offset.
type Reader struct {
	f   *os.File
	buf []byte
}

// Open opens path read-only with the page cache bypassed.
func Open(path string) (*Reader, error) {
	f, err := openDirect(path)
	if err != nil {
		return nil, err
	}
	return &Reader{f: f}, nil
}

// OpenFile opens the file f has open read-only with the page cache
// bypassed: the same file, whatever its path names by now.
func OpenFile(f *os.File) (*Reader, error) {
	d, err := reopenDirect(f)
	if err != nil {
		return nil, err
	}
	return &Reader{f: d}, nil
}

// ReadAt reads len(b) bytes at off through aligned reads.
func (r *Reader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		start := (off + int64(n)) &^ (Align - 1)
		skip := int(off + int64(n) - start)
		want := min(maxRead, (skip+len(b)-n+Align-1)&^(Align-1))
		if len(r.buf) < want {
			r.buf = AlignedBuf(want)
		}
		m, err := r.f.ReadAt(r.buf[:want], start)
		if m > skip {
			n += copy(b[n:], r.buf[skip:m])
		}
		if err != nil && n < len(b) {
			if err == io.EOF {
				return n, io.EOF
			}
			return n, fmt.Errorf("direct read of %s at %d: %w", r.f.Name(), start, err)
		}
		if m < want && n < len(b) {
			return n, io.EOF
		}
	}
	return n, nil
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }

// Stat describes the open file, so that a caller that opened the path
// before can tell it is the same file.
func (r *Reader) Stat() (os.FileInfo, error) { return r.f.Stat() }

// Name is the file's path.
func (r *Reader) Name() string { return r.f.Name() }

package wim

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// kernelCopy copies n bytes of src at off to w with copy_file_range when
// both are files (w an *os.File at its position, or an atWriter on one;
// src an *os.File or an io.SectionReader of one),
// and returns how many it copied; 0 and no error when the kernel cannot
// (other types, file systems that refuse), so the caller copies the rest.
func kernelCopy(w io.Writer, src io.ReaderAt, off, n int64) (int64, error) {
	in, ok := src.(*os.File)
	if s, isSection := src.(*io.SectionReader); isSection {
		// a WIM inside another file (an ISO): its bytes at their offset there
		outer, base, size := s.Outer()
		in, ok = outer.(*os.File)
		if off < 0 || off+n > size {
			return 0, nil
		}
		off += base
	}
	if !ok {
		return 0, nil
	}
	var dst *os.File
	var dstOff *int64
	switch w := w.(type) {
	case *os.File:
		dst = w
	case *atWriter:
		f, ok := w.w.(*os.File)
		if !ok {
			return 0, nil
		}
		dst, dstOff = f, &w.off
	default:
		return 0, nil
	}
	var done int64
	for done < n {
		c, err := unix.CopyFileRange(int(in.Fd()), &off, int(dst.Fd()), dstOff, int(min(n-done, 1<<30)), 0)
		if err != nil {
			if done == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EBADF)) {
				return 0, nil
			}
			return done, fmt.Errorf("copying the WIM at offset %d: %w", off, err)
		}
		if c == 0 {
			return done, fmt.Errorf("reading the WIM at offset %d: %w", off, io.ErrUnexpectedEOF)
		}
		done += int64(c)
	}
	return done, nil
}

package wim

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// kernelCopy copies n bytes of src at off to w's current position with
// copy_file_range when both are files, and returns how many it copied;
// 0 and no error when the kernel cannot (other types, file systems that
// refuse), so the caller copies the rest itself.
func kernelCopy(w io.Writer, src io.ReaderAt, off, n int64) (int64, error) {
	dst, ok1 := w.(*os.File)
	in, ok2 := src.(*os.File)
	if !ok1 || !ok2 {
		return 0, nil
	}
	var done int64
	for done < n {
		c, err := unix.CopyFileRange(int(in.Fd()), &off, int(dst.Fd()), nil, int(min(n-done, 1<<30)), 0)
		if err != nil {
			if done == 0 && (errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
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

package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/usbkit/compose/config/filekind"
)

// ErrNotRegular is matched by the error of OpenRegular for a path that is a
// FIFO, socket, device or directory.
var ErrNotRegular = errors.New("not a regular file")

// OpenRegular opens a file the user named (manifest, lock, local ISO) for
// reading, and refuses anything but a regular file. The open does not block:
// a FIFO with no writer would otherwise hang compose in open(2), where no
// signal handler can reach it.
func OpenRegular(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is %s: %w (compose reads only regular files; - reads standard input)", path, FileKind(fi.Mode()), ErrNotRegular)
	}
	return f, fi.Size(), nil
}

// FileKind names what a non-regular file is, for error messages
// (filekind.Of).
func FileKind(m fs.FileMode) string { return filekind.Of(m) }

// Package filekind names what a file that is not a regular one is ("a
// symbolic link", "a named pipe (FIFO)"), for error messages, instead of
// Go's mode strings ("L---------"). It imports nothing of the module:
// config and fetch both use it.
package filekind

import "io/fs"

// Name names the kind of file m describes; "not a regular file" when none
// of the known kinds fits.
func Name(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

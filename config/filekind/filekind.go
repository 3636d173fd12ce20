// Package filekind names file types in words for messages ("a symbolic
// link", not Go's "L---------"). It imports nothing of the module, so
// every package may use it.
package filekind

import "io/fs"

// Of names what a file of mode m is: "a regular file", "a directory", "a
// symbolic link", "a named pipe (FIFO)", "a socket", "a character device",
// "a block device".
func Of(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
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

package filekind

import (
	"io/fs"
	"testing"
)

func TestOf(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		0o644:                  "a regular file",
		fs.ModeDir | 0o755:     "a directory",
		fs.ModeSymlink | 0o777: "a symbolic link",
		fs.ModeNamedPipe:       "a named pipe (FIFO)",
		fs.ModeSocket:          "a socket",
		fs.ModeDevice | fs.ModeCharDevice | 0o666: "a character device",
		fs.ModeDevice | 0o660:                     "a block device",
		fs.ModeIrregular:                          "not a regular file",
	} {
		if got := Of(m); got != want {
			t.Errorf("Of(%v) = %q, want %q", m, got, want)
		}
	}
}

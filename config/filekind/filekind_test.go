package filekind

import (
	"io/fs"
	"testing"
)

func TestName(t *testing.T) {
	for m, want := range map[fs.FileMode]string{
		fs.ModeDir | 0o755:                "a directory",
		fs.ModeSymlink | 0o777:            "a symbolic link",
		fs.ModeNamedPipe:                  "a named pipe (FIFO)",
		fs.ModeSocket:                     "a socket",
		fs.ModeDevice | fs.ModeCharDevice: "a character device",
		fs.ModeDevice:                     "a block device",
		fs.ModeIrregular:                  "not a regular file",
	} {
		if got := Name(m); got != want {
			t.Errorf("%v: %q, want %q", m, got, want)
		}
	}
}

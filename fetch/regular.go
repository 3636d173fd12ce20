package fetch

import (
	"fmt"
	"os"
	"syscall"

	"github.com/usbkit/compose/config/filekind"
)

// openRegular opens a local source for reading without blocking (a FIFO
// with no writer would hang open(2) beyond the reach of Ctrl-C) and refuses
// anything but a regular file.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is %s, not a regular file", path, filekind.Of(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

package authenticode

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/usbkit/compose/config/filekind"
)

// maxKeyFile bounds a key or certificate file: real ones are a few KiB.
const maxKeyFile = 1 << 20

// readKeyFile reads a key or certificate file the user named. Only a
// regular file of at most maxKeyFile bytes is read, and the open does not
// block: a key path that was a FIFO hung compose in open(2), deaf to the
// first Ctrl-C, and one that led to /dev/zero grew compose by 1 GB a
// second until the kernel killed it (found by the recheck pass).
func readKeyFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	switch {
	case err != nil:
		return nil, err
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s is %s, not a regular file", path, filekind.Of(fi.Mode()))
	case fi.Size() > maxKeyFile:
		return nil, fmt.Errorf("%s is %d bytes, more than a key or certificate file holds (%d MiB at most)", path, fi.Size(), maxKeyFile>>20)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err == nil && len(b) > maxKeyFile {
		err = fmt.Errorf("%s grew past %d MiB while it was read", path, maxKeyFile>>20)
	}
	return b, err
}

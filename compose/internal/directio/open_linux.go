package directio

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

func openDirect(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EINVAL) {
		return nil, fmt.Errorf("%s: %w: its file system does not support O_DIRECT", path, ErrRefused)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s for direct reads: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// reopenDirect opens f's file anew through /proc/self/fd, which leads to
// the open file itself, not to whatever its path names now.
func reopenDirect(f *os.File) (*os.File, error) {
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.O_RDONLY|unix.O_DIRECT|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.EINVAL):
		return nil, fmt.Errorf("%s: %w: its file system does not support O_DIRECT", f.Name(), ErrRefused)
	case errors.Is(err, unix.ENOENT):
		return nil, fmt.Errorf("%s: %w: /proc is not mounted, through which it is opened again", f.Name(), ErrRefused)
	case err != nil:
		return nil, fmt.Errorf("opening %s for direct reads: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

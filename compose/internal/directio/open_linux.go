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

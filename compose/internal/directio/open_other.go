//go:build !linux

package directio

import (
	"fmt"
	"os"
)

func openDirect(path string) (*os.File, error) {
	return nil, fmt.Errorf("%s: %w: O_DIRECT is implemented on Linux only", path, ErrRefused)
}

func reopenDirect(f *os.File) (*os.File, error) { return openDirect(f.Name()) }

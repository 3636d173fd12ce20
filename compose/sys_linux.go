package compose

import (
	"os"

	"golang.org/x/sys/unix"
)

func fadviseDontNeed(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED) // devices and files alike
}

package device

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

const supported = true

// devnumOf returns "major:minor" of a block device node.
func devnumOf(path string) (string, bool) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", false
	}
	return fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))), true
}

// forget tells the kernel a streamed source's pages just read are not
// needed again (each is read once), so a 40 GB kit does not push
// everything else out of the page cache. Best effort.
func forget(f *os.File, off, n int64) { _ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED) }

// dupFile is a descriptor of its own for the file f has open.
func dupFile(f *os.File) (*os.File, error) {
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}

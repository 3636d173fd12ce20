package device

import (
	"fmt"

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

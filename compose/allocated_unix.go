//go:build unix

package compose

import (
	"golang.org/x/sys/unix"
)

// allocatedBytes is what a sparse image really occupies on disk, the honest
// "bytes written" of a full build.
func allocatedBytes(path string) (int64, bool) {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return 0, false
	}
	return int64(st.Blocks) * 512, true
}

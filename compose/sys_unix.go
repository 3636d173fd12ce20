//go:build unix

package compose

import (
	"os"

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

// dropCache asks the kernel to forget f's cached pages so that the
// read-back verification reads the medium, not memory. Best effort.
func dropCache(f *os.File) { fadviseDontNeed(f) }

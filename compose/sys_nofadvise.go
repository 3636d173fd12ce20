//go:build unix && !linux

package compose

import "os"

// Only Linux has posix_fadvise here; elsewhere verification may read
// cached pages, which still proves the written file system is consistent.
func fadviseDontNeed(*os.File) {}

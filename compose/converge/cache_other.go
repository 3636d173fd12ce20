//go:build !linux

package converge

import "os"

// dropCache: only Linux has posix_fadvise here; elsewhere a read-back may
// read cached pages, which still proves the written file system is
// consistent.
func dropCache(*os.File) {}

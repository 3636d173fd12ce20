package device

import "os"

// target is one open device (opened by openTarget, per platform).
type target struct {
	f          *os.File
	path       string
	direct     bool
	size       int64
	sectorSize int
	devnum     string
}

// sync writes back and flushes the device's own cache (fsync on a block
// device sends a cache flush).
func (t *target) sync() error { return t.f.Sync() }

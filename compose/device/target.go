package device

import (
	"fmt"
	"os"
)

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

// sameDevice refuses a device node whose number (devnum, "major:minor";
// "" when not a block device) is not that of d, the device checked and
// confirmed: the path the user named leads elsewhere now (a
// /dev/disk/by-id link that changed, a node replaced).
func sameDevice(d Device, devnum string) error {
	if !d.Block || devnum == fmt.Sprintf("%d:%d", d.Major, d.Minor) {
		return nil
	}
	now := "a file that is not a block device"
	if devnum != "" {
		now = "block device " + devnum
	}
	return &UnsafeTargetError{Device: d.Path, Reasons: []Reason{{Code: Changed,
		Text: fmt.Sprintf("it now leads to %s, not to the device checked (%d:%d); nothing was written to it", now, d.Major, d.Minor)}}}
}

package device

import (
	"errors"
	"fmt"
	"github.com/usbkit/compose/config/bytesize"
)

// ErrUnsupported is returned on systems where listing or writing devices is
// not implemented yet.
var ErrUnsupported = errors.New("device access is not supported on this system")

// Bus says how a disk is attached, as far as sysfs tells.
type Bus string

// Buses compose tells apart. Only USB and MMC count as removable media when
// the kernel's removable flag is not set.
const (
	BusUSB     Bus = "usb"
	BusMMC     Bus = "mmc"
	BusNVMe    Bus = "nvme"
	BusATA     Bus = "ata"
	BusSCSI    Bus = "scsi"
	BusVirtio  Bus = "virtio"
	BusLoop    Bus = "loop"
	BusVirtual Bus = "virtual" // dm, md, zram, nbd…
	BusUnknown Bus = "unknown"
)

// Device is one whole disk (or, from Lookup, whatever the user named).
type Device struct {
	Name       string `json:"name"` // kernel name: sda, mmcblk0, nvme0n1
	Path       string `json:"path"` // /dev/sda
	Major      uint32 `json:"major"`
	Minor      uint32 `json:"minor"`
	Size       int64  `json:"size"`        // bytes
	SectorSize int    `json:"sector_size"` // logical block size in bytes
	Vendor     string `json:"vendor,omitempty"`
	Model      string `json:"model,omitempty"`
	Serial     string `json:"serial,omitempty"`
	Bus        Bus    `json:"bus"`
	Removable  bool   `json:"removable"`
	ReadOnly   bool   `json:"read_only"`
	// Block is false when the path is not a block device at all; Partition
	// is set when it names a partition instead of a whole disk.
	Block     bool   `json:"block"`
	Partition string `json:"partition_of,omitempty"`

	Mountpoints []string    `json:"mountpoints,omitempty"` // of the whole disk
	Holders     []string    `json:"holders,omitempty"`     // dm/md devices built on the disk
	FSType      string      `json:"fstype,omitempty"`      // udev ID_FS_TYPE of the whole disk
	Swap        bool        `json:"swap"`                  // the disk itself is active swap
	Partitions  []Partition `json:"partitions,omitempty"`
	// System is set when /, /boot or /boot/efi is mounted from this disk,
	// directly or through a dm/md device built on it.
	System   bool     `json:"system"`
	Refusals []Reason `json:"refusals,omitempty"`
}

// Partition is one partition of a Device.
type Partition struct {
	Name        string   `json:"name"`
	Path        string   `json:"path"`
	Number      int      `json:"number"`
	Start       int64    `json:"start"` // bytes from the start of the disk
	Size        int64    `json:"size"`
	FSType      string   `json:"fstype,omitempty"`
	Label       string   `json:"label,omitempty"`
	Mountpoints []string `json:"mountpoints,omitempty"` // its own and those of its holders
	Holders     []string `json:"holders,omitempty"`
	Swap        bool     `json:"swap"`
}

// String names the device for humans: "/dev/sdb (SanDisk Ultra, 29.8 GiB, usb)".
func (d Device) String() string {
	desc := joinNonEmpty(" ", d.Vendor, d.Model)
	if d.Size > 0 {
		desc = joinNonEmpty(", ", desc, bytesize.Format(d.Size))
	}
	if d.Bus != "" && d.Bus != BusUnknown {
		desc = joinNonEmpty(", ", desc, string(d.Bus))
	}
	if desc == "" {
		return d.Path
	}
	return fmt.Sprintf("%s (%s)", d.Path, desc)
}

func joinNonEmpty(sep string, parts ...string) string {
	out := ""
	for _, p := range parts {
		if p == "" {
			continue
		}
		if out != "" {
			out += sep
		}
		out += p
	}
	return out
}

package device

import (
	"fmt"
	"github.com/usbkit/compose/config/bytesize"
	"strings"
)

// DefaultMaxSize is the size above which a target needs Force: few USB
// sticks are larger, many backup disks are.
const DefaultMaxSize int64 = 1 << 40

// CheckOptions tunes Check.
type CheckOptions struct {
	// Force lifts the "not removable" and "too large" rules, nothing else.
	Force bool
	// MaxSize is the sanity limit; 0 means DefaultMaxSize, negative means none.
	MaxSize int64
}

func (o CheckOptions) maxSize() int64 {
	if o.MaxSize == 0 {
		return DefaultMaxSize
	}
	return o.MaxSize
}

// Check returns nil when compose may write an image of imageSize bytes to
// dev, or an *UnsafeTargetError (errors.Is ErrUnsafeTarget) listing every
// reason it may not. An imageSize of 0 skips the size-against-image rule.
func Check(dev Device, imageSize int64, opts CheckOptions) error {
	var keep []Reason
	for _, r := range reasons(dev, imageSize, opts) {
		if r.Overridable && opts.Force {
			continue
		}
		keep = append(keep, r)
	}
	if len(keep) == 0 {
		return nil
	}
	return &UnsafeTargetError{Device: dev.String(), Reasons: keep}
}

// reasons lists every rule dev breaks, overridable ones included.
func reasons(dev Device, imageSize int64, opts CheckOptions) []Reason {
	never := func(c ReasonCode, f string, a ...any) Reason {
		return Reason{Code: c, Text: fmt.Sprintf(f, a...)}
	}
	if !dev.Block {
		return []Reason{never(NotBlockDevice, "%s is not a block device", dev.Path)}
	}
	if dev.Partition != "" {
		return []Reason{never(IsPartition, "%s is a partition of %s; name the whole disk", dev.Path, dev.Partition)}
	}
	var rs []Reason
	if dev.System {
		rs = append(rs, never(SystemDisk, "it holds the running system (/ or /boot)"))
	}
	if m := mounted(dev); len(m) > 0 {
		rs = append(rs, never(Mounted, "mounted: %s", strings.Join(m, ", ")))
	}
	if s := swaps(dev); len(s) > 0 {
		rs = append(rs, never(ActiveSwap, "in use as swap: %s", strings.Join(s, ", ")))
	}
	if m := members(dev); len(m) > 0 {
		rs = append(rs, never(Member, "member of a volume or array: %s", strings.Join(m, ", ")))
	}
	if dev.ReadOnly {
		rs = append(rs, never(ReadOnly, "it is read-only (write-protect switch?)"))
	}
	if dev.Size == 0 {
		rs = append(rs, never(NoMedium, "no medium (size 0)"))
	} else if imageSize > dev.Size {
		rs = append(rs, never(TooSmall, "it is smaller (%s) than the image (%s)", bytesize.Format(dev.Size), bytesize.Format(imageSize)))
	}
	if !dev.Removable && dev.Bus != BusUSB && dev.Bus != BusMMC {
		rs = append(rs, Reason{Code: NotRemovable, Overridable: true,
			Text: fmt.Sprintf("it is not removable media (bus %s)", dev.Bus)})
	}
	if max := opts.maxSize(); max > 0 && dev.Size > max {
		rs = append(rs, Reason{Code: TooLarge, Overridable: true,
			Text: fmt.Sprintf("it is larger (%s) than the %s sanity limit", bytesize.Format(dev.Size), bytesize.Format(max))})
	}
	return rs
}

// mounted lists "/dev/sdb1 on /media/x" for the disk and its partitions,
// holders' mounts included (they were folded in by List).
func mounted(dev Device) []string {
	var out []string
	for _, m := range dev.Mountpoints {
		out = append(out, dev.Path+" on "+m)
	}
	for _, p := range dev.Partitions {
		for _, m := range p.Mountpoints {
			out = append(out, p.Path+" on "+m)
		}
	}
	return out
}

func swaps(dev Device) []string {
	var out []string
	if dev.Swap {
		out = append(out, dev.Path)
	}
	for _, p := range dev.Partitions {
		if p.Swap {
			out = append(out, p.Path)
		}
	}
	return out
}

// memberFS are udev ID_FS_TYPE values of a disk that belongs to a volume
// group or array even while that is not assembled.
var memberFS = map[string]string{
	"LVM2_member":       "LVM physical volume",
	"linux_raid_member": "RAID member",
	"zfs_member":        "ZFS pool member",
}

func members(dev Device) []string {
	var out []string
	add := func(path string, holders []string, fstype string) {
		if len(holders) > 0 {
			out = append(out, fmt.Sprintf("%s held by %s", path, strings.Join(holders, ", ")))
		} else if what, ok := memberFS[fstype]; ok {
			out = append(out, fmt.Sprintf("%s is a %s", path, what))
		}
	}
	add(dev.Path, dev.Holders, dev.FSType)
	for _, p := range dev.Partitions {
		add(p.Path, p.Holders, p.FSType)
	}
	return out
}

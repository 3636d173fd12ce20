package device

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// openTarget opens path read-write and exclusively: on Linux O_EXCL on a
// block device fails with EBUSY while it is mounted, held by dm/md, or open
// exclusively elsewhere, and keeps others from doing so until we close it.
func openTarget(path string, mode DirectMode) (*target, error) {
	flags := unix.O_RDWR | unix.O_EXCL | unix.O_CLOEXEC
	direct := mode != DirectOff
	fd, err := unix.Open(path, flags|directFlag(direct), 0)
	if errors.Is(err, unix.EINVAL) && mode == DirectAuto {
		direct = false
		fd, err = unix.Open(path, flags, 0)
	}
	if errors.Is(err, unix.EBUSY) {
		return nil, &UnsafeTargetError{Device: path, Reasons: []Reason{{Code: Busy,
			Text: "it is in use (mounted, part of a volume or array, or open elsewhere)"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	t := &target{f: os.NewFile(uintptr(fd), path), path: path, direct: direct}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return t, nil // the re-check refuses it with the reason
	}
	t.devnum = fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	if t.size, err = blockSize64(fd); err != nil {
		t.f.Close()
		return nil, fmt.Errorf("reading size of %s: %w", path, err)
	}
	if t.sectorSize, err = unix.IoctlGetInt(fd, unix.BLKSSZGET); err != nil {
		t.f.Close()
		return nil, fmt.Errorf("reading sector size of %s: %w", path, err)
	}
	return t, nil
}

func directFlag(on bool) int {
	if on {
		return unix.O_DIRECT
	}
	return 0
}

func blockSize64(fd int) (int64, error) {
	var n uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0, e
	}
	return int64(n), nil
}

// rereadPartitions asks the kernel to read the new partition table.
func (t *target) rereadPartitions() error {
	return unix.IoctlSetInt(int(t.f.Fd()), unix.BLKRRPART, 0)
}

// dropCache makes later reads come from the device: BLKFLSBUF writes back
// and drops the block device's buffer cache, DONTNEED drops our pages.
func (t *target) dropCache() error {
	fd := int(t.f.Fd())
	if err := unix.IoctlSetInt(fd, unix.BLKFLSBUF, 0); err != nil {
		return fmt.Errorf("BLKFLSBUF: %w", err)
	}
	return unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
}

// Open opens the device d describes read-write and exclusively, as Write
// does, for a caller that changes it in place: refused (an
// *UnsafeTargetError) while it is mounted or in use, or when d.Path now
// leads to another device than the one checked.
func Open(d Device) (*os.File, error) {
	fd, err := unix.Open(d.Path, unix.O_RDWR|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EBUSY) {
		return nil, &UnsafeTargetError{Device: d.Path, Reasons: []Reason{{Code: Busy,
			Text: "it is in use (mounted, part of a volume or array, or open elsewhere)"}}}
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", d.Path, err)
	}
	f := os.NewFile(uintptr(fd), d.Path)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", d.Path, err)
	}
	num := ""
	if st.Mode&unix.S_IFMT == unix.S_IFBLK {
		num = fmt.Sprintf("%d:%d", unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)))
	}
	if err := sameDevice(d, num); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

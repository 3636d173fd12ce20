package imagefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/config/filekind"
)

// refuse says why the held image path must not be written whatever the
// kit, or "": it is the compose program, under /dev, /proc or /sys, or an
// existing file that is not a disk image.
func (h *Held) refuse() string {
	if exe, err := os.Executable(); err == nil && h.Is(exe) {
		return "it is the compose program itself (" + exe + ")"
	}
	if dir := systemDir(h.dirPath); dir != "" {
		return "it is under " + dir + ", where the kernel's own files are, not a place for an image"
	}
	return h.notDiskImage()
}

// systemDir names the kernel file system the directory dirPath is in
// (/dev, /proc, /sys; /dev/shm is an ordinary tmpfs), or "".
func systemDir(dirPath string) string {
	dir := absPath(dirPath)
	if dir == "/dev/shm" || strings.HasPrefix(dir, "/dev/shm/") {
		return ""
	}
	for _, sys := range []string{"/dev", "/proc", "/sys"} {
		if dir == sys || strings.HasPrefix(dir, sys+"/") {
			return sys
		}
	}
	return ""
}

// notDiskImage refuses an existing file whose loss could not be undone:
// one that holds data in its first 64 KiB (an empty, sparse or zeroed
// file is blank) and has no boot sector signature in its first sector, as
// every kit, MBR or GPT disk, hybrid ISO and FAT volume has. A key, a
// document, an archive or a plain ISO 9660 image (its volume descriptor is
// at 32 KiB) is refused even with --recreate.
func (h *Held) notDiskImage() string {
	if h.f == nil {
		return ""
	}
	head := make([]byte, 64<<10)
	n, _ := h.f.ReadAt(head, 0)
	head = head[:n]
	if len(head) >= 512 && head[510] == 0x55 && head[511] == 0xaa {
		return ""
	}
	if !slices.ContainsFunc(head, func(b byte) bool { return b != 0 }) {
		return ""
	}
	return "it exists and is not a disk image (no partition table or boot sector in its first sector, and not blank); " +
		"compose replaces only disk images, even with --recreate: remove it yourself if it can go"
}

// mountedLoop refuses, for an in-place change, an image attached to a loop
// device whose file system is mounted: the kernel writes its cached view
// of that file system back over what apply changed (found by the recheck
// pass: an ext4 data partition mounted through losetup -o had its block
// bitmap undone, e2fsck found it corrupt). A full rewrite (--recreate) is
// safe: it renames a new file over the path, and the loop device keeps
// the old one.
func (h *Held) mountedLoop() string {
	if h.f == nil {
		return ""
	}
	fi, err := h.f.Stat()
	if err != nil {
		return ""
	}
	devs, _ := device.BackedBy(device.Root{}, fi)
	for _, d := range devs {
		if uses := d.InUse(); len(uses) > 0 {
			return fmt.Sprintf("it is attached to the loop device %s, which is in use (%s): changing it in place would corrupt the mounted file system; unmount it (and losetup -d %s), or rewrite it with --recreate", d.Path, strings.Join(uses, "; "), d.Path)
		}
	}
	return ""
}

// describeKind names a file type for messages.
func describeKind(m fs.FileMode) string { return filekind.Of(m) }

// Inside reports whether the directory dirPath is dir or below it
// (symbolic links in both resolved where they exist).
func Inside(dirPath, dir string) bool {
	p, d := absPath(dirPath), absPath(dir)
	return p == d || strings.HasPrefix(p, d+string(filepath.Separator))
}

func absPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	a, err := filepath.Abs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return a
}

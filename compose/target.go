package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/config"
)

// ErrUnsafeImage is matched (errors.Is) when an image path is refused; it
// matches ErrUnsafeTarget too.
var ErrUnsafeImage = fmt.Errorf("unsafe image path: %w", ErrUnsafeTarget)

// ErrTargetBusy is matched (errors.Is) when another process is writing the
// image (it holds the image's lock, or is building it): nothing was
// written. It matches ErrUnsafeTarget too.
var ErrTargetBusy = fmt.Errorf("target in use: %w", ErrUnsafeTarget)

// ErrImageDir is matched when the directory an image path names is missing
// or cannot be written: a mistake in the path given, found before
// anything is fetched.
var ErrImageDir = errors.New("the image's directory cannot be written")

// ErrTargetMoved is matched when the image path was moved or replaced
// while Apply wrote the file it had checked there: the kit went to that
// file, which the path no longer names.
var ErrTargetMoved = errors.New("the image path was replaced while apply ran")

// RefusedImageError says why an image path was refused and what was left
// undone. It matches ErrUnsafeImage and ErrUnsafeTarget, and ErrTargetBusy
// when another process is writing the image.
type RefusedImageError struct {
	Path   string
	Reason string
	// Busy is set when another process is writing the image.
	Busy bool
	// Outcome says what happened to this run's work ("nothing was fetched
	// or built" when refused up front).
	Outcome string
}

func (e *RefusedImageError) Error() string {
	return fmt.Sprintf("refusing to write the image to %s: %s; %s", e.Path, e.Reason, e.Outcome)
}

// Is makes errors.Is match ErrUnsafeImage, ErrUnsafeTarget and, for Busy,
// ErrTargetBusy.
func (e *RefusedImageError) Is(target error) bool {
	return target == ErrUnsafeImage || target == ErrUnsafeTarget || (e.Busy && target == ErrTargetBusy)
}

const notStarted = "nothing was fetched or built"

// NamedFile is a file the manifest names, with the field that names it.
type NamedFile struct {
	Path  string // resolved against the manifest's directory
	Field string // "isos[2].path", "secure_boot.sign_with.key"…
	What  string // "the ISO alpha", "the Secure Boot signing key"…
}

// NamedFiles lists every file the manifest names: path: ISOs, the OpenPGP
// key files of checksum signatures, the Secure Boot signing key and
// certificate, and the certificates to enrol. (The lock names the same
// path: ISOs.)
func (k *Kit) NamedFiles() []NamedFile {
	var out []NamedFile
	add := func(path, field, what string) {
		if path != "" {
			out = append(out, NamedFile{Path: path, Field: field, What: what})
		}
	}
	for i, iso := range k.m.ISOs {
		add(iso.LocalPath, fmt.Sprintf("isos[%d].path", i), "the ISO "+iso.Name)
		if iso.Signature != nil {
			add(iso.Signature.Key.LocalFile, fmt.Sprintf("isos[%d].signature.key.file", i), "the OpenPGP key that signs "+iso.Name+"'s checksums")
		}
	}
	sb := k.m.SecureBootOptions
	if sb.SignWith != nil {
		add(sb.SignWith.LocalKey, "secure_boot.sign_with.key", "the Secure Boot signing key")
		add(sb.SignWith.LocalCert, "secure_boot.sign_with.cert", "the Secure Boot signing certificate")
	}
	for i, e := range sb.Enroll {
		add(e.LocalFile, fmt.Sprintf("secure_boot.enroll[%d]", i), "a certificate to enrol")
	}
	return out
}

// openImage opens the image path for apply (write) or plan: it refuses,
// before anything is fetched or built, a path whose replacement would
// destroy something (see refuseImage), and holds what it checked.
func (k *Kit) openImage(path string, mode imageMode) (*heldImage, error) {
	if path == "" {
		return nil, nil
	}
	return openHeld(path, mode, k.refuseImage)
}

// refuseImage says why the held image path must not be written, or "":
// it is the manifest, its lock, a file the manifest names or in the ISO
// cache (heldImage.refuse checks the rest).
func (k *Kit) refuseImage(h *heldImage) string {
	manifest := config.ManifestName(k.m)
	protected := []NamedFile{{Path: k.lockPath, What: "the manifest's lock"}}
	if k.m.File != config.StdinName {
		protected = append(protected, NamedFile{Path: k.m.File, What: "the manifest"})
	}
	protected = append(protected, k.NamedFiles()...)
	for _, p := range protected {
		switch {
		case !h.is(p.Path):
		case p.Field == "":
			return "it is " + p.What
		default:
			return fmt.Sprintf("it is %s (%s in %s)", p.What, p.Field, manifest)
		}
	}
	if f, err := k.fetcher(); err == nil && inside(h.dirPath, f.CacheDir()) {
		return "it is inside the ISO cache " + f.CacheDir()
	}
	return ""
}

// refuse says why the held image path must not be written whatever the
// kit, or "": it is the compose program, under /dev, /proc or /sys, or an
// existing file that is not a disk image.
func (h *heldImage) refuse() string {
	if exe, err := os.Executable(); err == nil && h.is(exe) {
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
func (h *heldImage) notDiskImage() string {
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
func (h *heldImage) mountedLoop() string {
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
func describeKind(m fs.FileMode) string { return config.FileKind(m) }

// inside reports whether the directory dirPath is dir or below it
// (symbolic links in both resolved where they exist).
func inside(dirPath, dir string) bool {
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

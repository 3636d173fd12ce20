package isoimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/crash"
)

// Image is an ISO opened read-only for inspection. Its FS is go-diskfs's
// iso9660 behind a panic guard (guard.go): call Failed after using it, and
// Close when done.
type Image struct {
	fs.FS
	Label    string
	Warnings []string // e.g. a volume larger than the file (truncated download)
	guard    *guard
	close    func()
}

// Failed is the first panic go-diskfs raised while the ISO was read, as an
// error naming the ISO, or nil.
func (im *Image) Failed() error { return im.guard.failed() }

// Close closes the ISO file.
func (im *Image) Close() { im.close() }

// Open opens the ISO at path for inspection. name is how messages call it
// (the user's file or the manifest's ISO name, never a cache path). Only a
// regular file is opened, so a FIFO cannot block compose.
func Open(ctx context.Context, path, name string) (*Image, error) {
	f, size, err := config.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	im, err := readISO(ctx, f, size, name)
	if err != nil {
		f.Close()
		return nil, err
	}
	im.close = func() { f.Close() }
	return im, nil
}

// isoFile is what go-diskfs reads an ISO from: *os.File, or bytes in tests.
type isoFile interface {
	fs.File
	io.ReaderAt
	io.Seeker
}

// readISO checks the volume descriptor itself, then hands the file to
// go-diskfs; any panic in go-diskfs, now or while the FS is used, becomes
// an error naming the ISO.
func readISO(ctx context.Context, f isoFile, size int64, name string) (*Image, error) {
	vol, err := checkVolume(f, size, name)
	if err != nil {
		return nil, err
	}
	g := &guard{name: name, ctx: ctx}
	var fsys *iso9660.FileSystem
	err = g.do(func() error {
		var err error
		fsys, err = iso9660.Read(file.New(cappedISO{f, g}, true), size, 0, 0)
		return err
	})
	if gerr := g.failed(); gerr != nil { // a panic, a bound or ctx: the error names the ISO
		return nil, gerr
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading its ISO 9660 file system: %w", name, err)
	}
	im := &Image{FS: guardFS(fsys, g), guard: g, close: func() {}}
	_ = g.do(func() error { im.Label = strings.TrimSpace(fsys.Label()); return nil })
	if w := vol.truncated(size); w != "" {
		im.Warnings = append(im.Warnings, name+": "+w)
	}
	return im, g.failed()
}

// Inspection is what `compose inspect` reports about one ISO.
type Inspection struct {
	Label      string                       `json:"label"`
	Boot       bootloader.Detection         `json:"boot"`
	SecureBoot *bootloader.SecureBootReport `json:"secure_boot,omitempty"`
	Warnings   []string                     `json:"warnings,omitempty"`
	// Persistence is set by InspectPersistent.
	Persistence *PersistenceReport `json:"persistence,omitempty"`
}

// Inspect decides how the ISO at path boots and who signed its payload.
// Cancelling ctx stops it at its next read of the ISO.
func Inspect(ctx context.Context, path string) (*Inspection, error) {
	im, err := Open(ctx, path, path)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	return inspectImage(im, path)
}

// inspectImage runs bootloader's inspection on an opened ISO. A panic in
// it (compose's own code on hostile input: a bug) is an internal error
// naming the ISO, not a crash; FuzzISO fails on one.
func inspectImage(im *Image, name string) (*Inspection, error) {
	return resolveImage(im, name, bootloader.Overrides{})
}

// resolveImage is inspectImage with the manifest's overrides.
func resolveImage(im *Image, name string, ov bootloader.Overrides) (_ *Inspection, err error) {
	defer crash.Recover(&err, "inspecting %s", name)
	d, err := bootloader.Resolve(im, im.Label, ov)
	if perr := im.Failed(); perr != nil {
		return nil, perr
	}
	if err != nil {
		return nil, InspectErr(name, err)
	}
	r := &Inspection{Label: im.Label, Boot: d, Warnings: im.Warnings}
	sb, err := bootloader.CheckSecureBoot(im, d)
	if perr := im.Failed(); perr != nil {
		return nil, perr
	}
	if err != nil {
		// As plan warns; inspect dropped it, and printed no secure boot line
		// at all for a signature it could not read (recheck pass).
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s: cannot tell who signed its boot payload: %v", name, err))
	} else {
		r.SecureBoot = &sb
	}
	return r, nil
}

// ErrMalformedISO is matched by the error of an ISO whose structures the
// ISO 9660 reader could not survive, or whose directory tree no ISO writer
// makes (bootloader.ErrMalformedTree: a loop, a name such as ".").
var ErrMalformedISO = errors.New("malformed ISO 9660 image")

// InspectErr is an inspection's error prefixed with name; bootloader's
// refusal of the ISO's tree is also ErrMalformedISO.
func InspectErr(name string, err error) error {
	if errors.Is(err, bootloader.ErrMalformedTree) {
		return fmt.Errorf("%s: %w: %w", name, ErrMalformedISO, err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// maxISORead bounds one read go-diskfs makes from an ISO: it reads a path
// table or a whole directory at once, sized by what the image claims (up to
// 4 GiB); real ones take kilobytes.
const maxISORead = 16 << 20

// cappedISO is the file go-diskfs reads, each read counted by the guard.
type cappedISO struct {
	isoFile
	g *guard
}

func (c cappedISO) ReadAt(p []byte, off int64) (int, error) {
	// The size first: one read of 4 GiB is a structure claiming that size
	// (a Rock Ridge continuation area's length), not a loop.
	if len(p) > maxISORead {
		return 0, c.g.record(fmt.Errorf("%s: %w: a structure of %d bytes at offset %d (more than %d MiB)", c.g.name, ErrMalformedISO, len(p), off, maxISORead>>20))
	}
	if err := c.g.step(len(p)); err != nil {
		return 0, err
	}
	return c.isoFile.ReadAt(p, off)
}

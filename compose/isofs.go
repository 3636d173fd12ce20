package compose

import (
	"fmt"
	"io/fs"
	"strings"

	"github.com/diskfs/go-diskfs"
	"github.com/usbkit/compose/bootloader"
)

// openISO opens an ISO read-only as an fs.FS for inspection and returns its
// volume label (go-diskfs pads it with spaces) and a function to close it.
func openISO(path string) (fs.FS, string, func(), error) {
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, "", nil, fmt.Errorf("opening %s: %w", path, err)
	}
	f, err := d.GetFilesystem(0)
	if err != nil {
		d.Close()
		return nil, "", nil, fmt.Errorf("reading ISO 9660 file system in %s: %w", path, err)
	}
	fsys, ok := f.(fs.FS)
	if !ok {
		d.Close()
		return nil, "", nil, fmt.Errorf("%s: go-diskfs file system is not an fs.FS", path)
	}
	return fsys, strings.TrimSpace(f.Label()), func() { d.Close() }, nil
}

// Inspection is what `compose inspect` reports about one ISO.
type Inspection struct {
	Label      string                       `json:"label"`
	Boot       bootloader.Detection         `json:"boot"`
	SecureBoot *bootloader.SecureBootReport `json:"secure_boot,omitempty"`
}

// InspectISO decides how the ISO at path boots and who signed its payload.
func InspectISO(path string) (*Inspection, error) {
	fsys, label, closeISO, err := openISO(path)
	if err != nil {
		return nil, err
	}
	defer closeISO()
	d, err := bootloader.Inspect(fsys, label)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &Inspection{Label: label, Boot: d}
	if sb, err := bootloader.CheckSecureBoot(fsys, d); err == nil {
		r.SecureBoot = &sb
	}
	return r, nil
}

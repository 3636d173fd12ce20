package isoimage

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/udf"
	"github.com/usbkit/compose/compose/wim"
)

// readUDF switches the image to its UDF side when that side holds a
// Windows installer: oscdimg's ISO 9660 side holds only a README. Any
// other UDF side (genisoimage -udf mirrors the ISO 9660 tree) is left
// unread, so Linux ISOs read as before; one that cannot be read is a
// warning, not a failure.
func (im *Image) readUDF(ctx context.Context, f io.ReaderAt, size int64, name string) {
	if !udf.Present(f, size) {
		return
	}
	u, err := udf.Open(ctx, f, size)
	if err != nil {
		im.Warnings = append(im.Warnings, fmt.Sprintf("%s: its UDF side cannot be read, so only its ISO 9660 side is: %v", name, err))
		return
	}
	if bootloader.IsWindows(u) {
		im.FS, im.UDF = u, true
		if u.Label != "" {
			im.Label = u.Label
		}
	}
}

// windowsEditions fills w's editions from its install image's XML (the
// first part of a split one); what cannot be read is a warning.
func windowsEditions(im *Image, w *bootloader.WindowsLayout, name string) []string {
	f, err := im.Open(strings.TrimPrefix(w.InstallImage, "/"))
	if err != nil {
		return []string{fmt.Sprintf("%s: cannot read the editions of %s: %v", name, w.InstallImage, err)}
	}
	defer f.Close()
	ra, ok := f.(interface {
		io.ReaderAt
		Size() int64
	})
	if !ok {
		return []string{fmt.Sprintf("%s: cannot read the editions of %s: not a UDF file", name, w.InstallImage)}
	}
	info, err := wim.ReadInfo(ra, ra.Size())
	if err != nil {
		return []string{fmt.Sprintf("%s: cannot read the editions of %s: %v", name, w.InstallImage, err)}
	}
	for _, img := range info.Images {
		n := img.DisplayName
		if n == "" {
			n = img.Name
		}
		w.Editions = append(w.Editions, bootloader.WindowsEdition{Index: img.Index, Name: n, Arch: img.Arch})
	}
	return nil
}

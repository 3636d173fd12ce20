package compose

import (
	"fmt"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/isoimage"
	"github.com/usbkit/compose/config/bytesize"
)

// windowsEntry refuses an entry whose ISO is a Windows installer, with or
// without a boot: override: compose detects one (compose inspect shows it)
// but has no stick layout for it yet (issue 26), and a plan must not
// promise what apply cannot build. at is the entry's manifest position.
func windowsEntry(at, name string, im *isoimage.Image) error {
	if !im.UDF { // isoimage reads the UDF side only for a Windows installer
		return nil
	}
	what := "a Windows installer ISO"
	if d, ok, err := bootloader.InspectWindows(im, im.Label); err == nil && ok {
		w := d.Windows
		what += fmt.Sprintf(" (%s, %s %s)", w.InstallImage, w.InstallKind, bytesize.Format(w.InstallSize))
	}
	return fmt.Errorf("%s %s: is %s: compose detects Windows installer ISOs but cannot put them on a stick yet; remove the entry, or write the ISO to a stick of its own",
		at, name, what)
}

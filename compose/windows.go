package compose

import (
	"fmt"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/config/bytesize"
)

// windowsEntry refuses an entry whose ISO is a Windows installer: compose
// detects one (compose inspect shows it) but has no stick layout for it
// yet (issue 26), and a plan must not promise what apply cannot build. at
// is the entry's manifest position.
func windowsEntry(at, name string, d bootloader.Detection) error {
	if d.Family != bootloader.Windows || d.Windows == nil {
		return nil
	}
	return fmt.Errorf("%s %s: is a Windows installer ISO (%s, %s %s): compose detects Windows installer ISOs but cannot put them on a stick yet; remove the entry, or write the ISO to a stick of its own",
		at, name, d.Windows.InstallImage, d.Windows.InstallKind, bytesize.Format(d.Windows.InstallSize))
}

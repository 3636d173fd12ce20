package bootloader

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/usbkit/compose/bootloader/assets"
	"github.com/usbkit/compose/config/firmware"
)

// ConfigPath is where the generated menu (Render's output) goes on the ESP.
const ConfigPath = "/boot/grub/grub.cfg"

// BIOSMarkerPath is the marker the prebuilt BIOS core.img searches for (on the boot disk
// first). Its name is fixed because core.img is built once; its content is the stick ID.
const BIOSMarkerPath = "/boot/grub/compose.stick"

// ESPOptions selects the boot files for a stick.
type ESPOptions struct {
	Targets    []firmware.Firmware
	SecureBoot bool   // informational: the signed chain is used either way (it boots with SB off)
	StickID    string // unique per stick, [A-Za-z0-9_-]{1,64}; names the UEFI marker file
}

// File is one file for the ESP: an absolute slash path and its content.
type File struct {
	Path string
	Data []byte
}

var stickIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// MarkerPath is the per-stick marker file the /EFI/debian/grub.cfg stub searches for.
func MarkerPath(stickID string) string { return "/boot/grub/compose-" + stickID + ".id" }

// ESPFiles returns the files that make the ESP bootable on opts.Targets: shim as the
// removable-media loader, Debian's signed GRUB, MokManager, the stub config and the markers.
// No fallback (fb*.efi) is shipped: from removable media shim would run it, write NVRAM
// entries and reboot. The BIOS target needs only the markers here; see BIOSInstall.
func ESPFiles(opts ESPOptions) ([]File, error) {
	if !stickIDRe.MatchString(opts.StickID) {
		return nil, fmt.Errorf("stick id %q: want 1-64 of [A-Za-z0-9_-]", opts.StickID)
	}
	if len(opts.Targets) == 0 {
		return nil, fmt.Errorf("no firmware targets")
	}
	var out []File
	add := func(path, asset string) error {
		b, err := assets.Read(asset)
		if err != nil {
			return err
		}
		out = append(out, File{path, b})
		return nil
	}
	needStub := false
	for _, t := range dedupTargets(opts.Targets) {
		var err error
		switch t {
		case firmware.BIOS:
		case firmware.UEFIX64:
			err = addAll(add, "/EFI/BOOT/BOOTX64.EFI", assets.ShimX64, "/EFI/BOOT/grubx64.efi", assets.GrubX64, "/EFI/BOOT/mmx64.efi", assets.MokX64)
		case firmware.UEFIARM64:
			err = addAll(add, "/EFI/BOOT/BOOTAA64.EFI", assets.ShimAA64, "/EFI/BOOT/grubaa64.efi", assets.GrubAA64, "/EFI/BOOT/mmaa64.efi", assets.MokAA64)
		case firmware.UEFIIA32:
			err = add("/EFI/BOOT/BOOTIA32.EFI", assets.GrubIA32)
		default:
			return nil, fmt.Errorf("firmware target %q: want bios, uefi-x64, uefi-arm64 or uefi-ia32", t)
		}
		if err != nil {
			return nil, err
		}
		needStub = needStub || t != firmware.BIOS
	}
	if needStub {
		out = append(out, File{"/EFI/debian/grub.cfg", stubConfig(opts.StickID)})
	}
	id := []byte(opts.StickID + "\n")
	out = append(out, File{MarkerPath(opts.StickID), id}, File{BIOSMarkerPath, id})
	return out, nil
}

func addAll(add func(path, asset string) error, pairs ...string) error {
	for i := 0; i < len(pairs); i += 2 {
		if err := add(pairs[i], pairs[i+1]); err != nil {
			return err
		}
	}
	return nil
}

func dedupTargets(ts []firmware.Firmware) []firmware.Firmware {
	out := slices.Clone(ts)
	slices.Sort(out)
	return slices.Compact(out)
}

// stubConfig is read by the signed GRUB (prefix /EFI/debian) and the ia32 GRUB. It finds
// this stick by its own marker, so another disk's /boot/grub/grub.cfg never answers.
func stubConfig(stickID string) []byte {
	return []byte("search --no-floppy --set=root --file " + MarkerPath(stickID) + "\n" +
		"set prefix=($root)/boot/grub\n" +
		"configfile ($root)" + ConfigPath + "\n")
}

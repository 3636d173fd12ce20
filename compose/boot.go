package compose

import (
	"fmt"
	"regexp"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/config"
)

// BootFirmware lists the firmware a kit is boot-tested on: each of its
// targets, and each UEFI target with Secure Boot enforced as well when the
// kit asks for Secure Boot.
func BootFirmware(m *config.Manifest) []boottest.Firmware {
	var out []boottest.Firmware
	for _, f := range m.Firmware {
		switch f {
		case config.FirmwareBIOS:
			out = append(out, boottest.BIOS)
		case config.FirmwareUEFIX64:
			out = append(out, boottest.UEFI)
			if m.SecureBoot {
				out = append(out, boottest.UEFISB)
			}
		case config.FirmwareUEFIARM64:
			out = append(out, boottest.UEFIARM64)
			if m.SecureBoot {
				out = append(out, boottest.UEFIARM64SB)
			}
		case config.FirmwareUEFIIA32:
			out = append(out, boottest.UEFIIA32)
		}
	}
	return out
}

// grubRuns is what $grub_platform and $grub_cpu are under each firmware.
var grubRuns = map[boottest.Firmware][2]string{
	boottest.BIOS: {"pc", "i386"}, boottest.UEFIIA32: {"efi", "i386"},
	boottest.UEFI: {"efi", "x86_64"}, boottest.UEFISB: {"efi", "x86_64"},
	boottest.UEFIARM64: {"efi", "arm64"}, boottest.UEFIARM64SB: {"efi", "arm64"},
}

// BootCases lists a boot of every menu entry on every firmware in fws where
// the menu shows it, with the entry's position in that menu, the manifest's
// `expect:` marker, and the failure Secure Boot is known to cause (a payload
// Debian's shim does not trust). The plan must be ready (ISOs inspected).
func (p *Plan) BootCases(m *config.Manifest, fws []boottest.Firmware) ([]boottest.Case, error) {
	if !p.Ready {
		return nil, ErrNotReady
	}
	var cases []boottest.Case
	for _, fw := range fws {
		run, ok := grubRuns[fw]
		if !ok {
			return nil, fmt.Errorf("no boot test for firmware %s", fw)
		}
		index := 0
		for i, e := range p.Entries {
			if !bootloader.Shown(*e.Boot, run[0], run[1]) {
				continue
			}
			c, err := bootCase(&m.ISOs[i], e, index, fw)
			if err != nil {
				return nil, err
			}
			cases = append(cases, c)
			index++
		}
	}
	return cases, nil
}

func bootCase(iso *config.ISO, e EntryPlan, index int, fw boottest.Firmware) (boottest.Case, error) {
	c := boottest.Case{Entry: boottest.Entry{Name: e.Name, Index: index, Title: e.Title}, Firmware: fw}
	if iso.Expect != "" {
		re, err := regexp.Compile(iso.Expect)
		if err != nil { // config validated it; this is a bug
			return c, fmt.Errorf("%s: expect: %w", iso.Name, err)
		}
		c.Marker = re
	}
	if fw.SecureBoot() && e.SecureBoot != nil && !e.SecureBoot.Boots {
		c.ExpectFail = boottest.ReasonPayloadNotSigned
	}
	return c, nil
}

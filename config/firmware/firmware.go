// Package firmware names the machines a kit boots on. It is the one firmware
// vocabulary of the module: the manifest's `firmware:` list (config), the
// boot files installed for each (bootloader), the plan's boot cases
// (compose) and the QEMU machines that try them (compose/boottest) all use
// Firmware. It imports nothing, so every package may depend on it.
//
// Secure Boot is not a firmware but a setting of a UEFI one: callers carry
// it beside a Firmware as a bool.
package firmware

import (
	"fmt"
	"strings"
)

// Firmware is a boot target, spelled as in the manifest.
type Firmware string

// The targets.
const (
	BIOS      Firmware = "bios"       // PC BIOS (legacy boot from the MBR)
	UEFIX64   Firmware = "uefi-x64"   // 64-bit x86 UEFI
	UEFIARM64 Firmware = "uefi-arm64" // 64-bit ARM UEFI
	UEFIIA32  Firmware = "uefi-ia32"  // 32-bit UEFI on an x86 CPU
)

// All lists every target in a stable order.
var All = []Firmware{BIOS, UEFIX64, UEFIARM64, UEFIIA32}

// Parse turns a user's word into a Firmware.
func Parse(s string) (Firmware, error) {
	for _, f := range All {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown firmware %q (want one of %s)", s, Names())
}

// Names lists every target, comma-separated, for messages.
func Names() string {
	names := make([]string, len(All))
	for i, f := range All {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// EFI reports whether f is a UEFI target.
func (f Firmware) EFI() bool { return f != BIOS }

// ARM64 reports whether f runs an arm64 CPU.
func (f Firmware) ARM64() bool { return f == UEFIARM64 }

// SignedShim reports whether a Secure Boot chain (shim signed by Microsoft)
// exists for f; there is none for 32-bit UEFI.
func (f Firmware) SignedShim() bool { return f == UEFIX64 || f == UEFIARM64 }

// GRUB returns what GRUB's $grub_platform and $grub_cpu are when it runs
// on f.
func (f Firmware) GRUB() (platform, cpu string) {
	switch f {
	case BIOS:
		return "pc", "i386"
	case UEFIIA32:
		return "efi", "i386"
	case UEFIARM64:
		return "efi", "arm64"
	}
	return "efi", "x86_64"
}

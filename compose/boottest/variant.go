package boottest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/usbkit/compose/config/firmware"
)

// Variant names the QEMU machine variant a boot runs on: a QEMU system, its
// firmware and whether Secure Boot is enforced. The names are the manifest's firmware
// targets (bios, uefi-x64, uefi-ia32, uefi-arm64), with "-sb" appended when
// Secure Boot is enforced.
type Variant string

// The firmware targets a kit can be tried on.
const (
	BIOS        Variant = "bios"          // SeaBIOS, legacy boot from the MBR
	UEFI        Variant = "uefi-x64"      // OVMF x86_64, Secure Boot off
	UEFISB      Variant = "uefi-x64-sb"   // OVMF x86_64, Secure Boot on with Microsoft + Debian keys
	UEFIIA32    Variant = "uefi-ia32"     // OVMF ia32 (32-bit UEFI on x86_64 CPU), no keys enrolled
	UEFIARM64   Variant = "uefi-arm64"    // AAVMF on qemu-system-aarch64 virt, Secure Boot off
	UEFIARM64SB Variant = "uefi-arm64-sb" // AAVMF with Microsoft keys, Secure Boot on
)

// AllVariants lists every Variant in a stable order.
var AllVariants = []Variant{BIOS, UEFI, UEFISB, UEFIIA32, UEFIARM64, UEFIARM64SB}

// aliases are the names earlier releases used.
var aliases = map[string]Variant{"uefi": UEFI, "uefi-sb": UEFISB}

// ParseVariant turns a user's word (as in --firmware) into a Variant: a
// manifest target name, optionally with "-sb", or an older alias.
func ParseVariant(s string) (Variant, error) {
	for _, f := range AllVariants {
		if string(f) == s {
			return f, nil
		}
	}
	if f, ok := aliases[s]; ok {
		return f, nil
	}
	names := make([]string, len(AllVariants))
	for i, f := range AllVariants {
		names[i] = string(f)
	}
	return "", fmt.Errorf("unknown firmware %q (want one of %s)", s, strings.Join(names, ", "))
}

// WithSecureBoot is f with Secure Boot enforced; only uefi-x64 and
// uefi-arm64 have a Secure Boot machine.
func (f Variant) WithSecureBoot() (Variant, error) {
	switch f {
	case UEFI, UEFISB:
		return UEFISB, nil
	case UEFIARM64, UEFIARM64SB:
		return UEFIARM64SB, nil
	}
	return "", fmt.Errorf("firmware %s has no Secure Boot machine (uefi-x64 and uefi-arm64 have)", f)
}

// targets maps each machine to the kit firmware it boots and whether Secure
// Boot is enforced: boottest's names are machines, config/firmware's are
// what a kit targets.
var targets = map[Variant]struct {
	fw firmware.Firmware
	sb bool
}{
	BIOS: {firmware.BIOS, false}, UEFI: {firmware.UEFIX64, false}, UEFISB: {firmware.UEFIX64, true},
	UEFIIA32: {firmware.UEFIIA32, false}, UEFIARM64: {firmware.UEFIARM64, false}, UEFIARM64SB: {firmware.UEFIARM64, true},
}

// For returns the machine that boots a kit's target fw, with Secure Boot
// enforced when secureBoot is set.
func For(fw firmware.Firmware, secureBoot bool) (Variant, error) {
	for m, t := range targets {
		if t.fw == fw && t.sb == secureBoot {
			return m, nil
		}
	}
	return "", fmt.Errorf("no boot test for firmware %s (Secure Boot %t)", fw, secureBoot)
}

// Target is the kit firmware f boots.
func (f Variant) Target() firmware.Firmware { return targets[f].fw }

// SecureBoot reports whether the firmware enforces Secure Boot.
func (f Variant) SecureBoot() bool { return f == UEFISB || f == UEFIARM64SB }

// EFI reports whether the firmware is UEFI (GRUB lines then appear twice on serial).
func (f Variant) EFI() bool { return f != BIOS }

// ARM64 reports whether the guest is an arm64 machine.
func (f Variant) ARM64() bool { return f == UEFIARM64 || f == UEFIARM64SB }

// ErrNotInstalled is wrapped by every MissingError: QEMU or a firmware file is
// not on this machine. The CLI maps it to an exit code and a hint.
var ErrNotInstalled = errors.New("not installed")

// MissingError says which program or file is missing and which Debian
// packages provide it.
type MissingError struct {
	What     string   // "qemu-system-x86_64", "/usr/share/OVMF/OVMF_CODE_4M.fd"
	Firmware Variant  // the target that needed it
	Packages []string // Debian packages to install
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("%s needs %s, which is not installed (install the Debian packages: %s)",
		e.Firmware, e.What, strings.Join(e.Packages, " "))
}

// Unwrap lets errors.Is(err, ErrNotInstalled) hold.
func (e *MissingError) Unwrap() error { return ErrNotInstalled }

// Files are the host programs and firmware images one Variant needs.
type Files struct {
	Firmware Variant
	QEMU     string // absolute path of the qemu-system binary
	Code     string // read-only firmware code (pflash 0); empty for BIOS (QEMU's SeaBIOS)
	Vars     string // variable store template, copied per boot; empty for BIOS
	VarsSize int64  // size the per-boot copy must have (AAVMF wants 64 MiB); 0 = as is
}

type fwSpec struct {
	qemu, qemuPkg   string
	code, vars      string // relative to the share dir
	fwPkg           string
	varsSize        int64
	seabiosSentinel string
}

var specs = map[Variant]fwSpec{
	BIOS:        {qemu: "qemu-system-x86_64", qemuPkg: "qemu-system-x86", seabiosSentinel: "seabios/bios-256k.bin", fwPkg: "seabios"},
	UEFI:        {qemu: "qemu-system-x86_64", qemuPkg: "qemu-system-x86", code: "OVMF/OVMF_CODE_4M.fd", vars: "OVMF/OVMF_VARS_4M.fd", fwPkg: "ovmf"},
	UEFISB:      {qemu: "qemu-system-x86_64", qemuPkg: "qemu-system-x86", code: "OVMF/OVMF_CODE_4M.secboot.fd", vars: "OVMF/OVMF_VARS_4M.ms.fd", fwPkg: "ovmf"},
	UEFIIA32:    {qemu: "qemu-system-x86_64", qemuPkg: "qemu-system-x86", code: "OVMF/OVMF32_CODE_4M.secboot.fd", vars: "OVMF/OVMF32_VARS_4M.fd", fwPkg: "ovmf-ia32"},
	UEFIARM64:   {qemu: "qemu-system-aarch64", qemuPkg: "qemu-system-arm", code: "AAVMF/AAVMF_CODE.fd", vars: "AAVMF/AAVMF_VARS.fd", fwPkg: "qemu-efi-aarch64", varsSize: 64 << 20},
	UEFIARM64SB: {qemu: "qemu-system-aarch64", qemuPkg: "qemu-system-arm", code: "AAVMF/AAVMF_CODE.ms.fd", vars: "AAVMF/AAVMF_VARS.ms.fd", fwPkg: "qemu-efi-aarch64", varsSize: 64 << 20},
}

// Locate finds QEMU and the firmware files for f in the standard Debian
// places (/usr/share/OVMF, /usr/share/AAVMF, /usr/share/seabios).
func Locate(f Variant) (Files, error) { return LocateIn(f, "/usr/share", exec.LookPath) }

// LocateIn is Locate with the share directory and the PATH lookup given, so
// that tests and unusual installs can point elsewhere.
func LocateIn(f Variant, share string, lookPath func(string) (string, error)) (Files, error) {
	s, ok := specs[f]
	if !ok {
		return Files{}, fmt.Errorf("unknown firmware %q", f)
	}
	q, err := lookPath(s.qemu)
	if err != nil {
		return Files{}, &MissingError{What: s.qemu, Firmware: f, Packages: []string{s.qemuPkg}}
	}
	files := Files{Firmware: f, QEMU: q, VarsSize: s.varsSize}
	need := []string{s.seabiosSentinel}
	if s.code != "" {
		files.Code = filepath.Join(share, s.code)
		files.Vars = filepath.Join(share, s.vars)
		need = []string{s.code, s.vars}
	}
	for _, rel := range need {
		p := filepath.Join(share, rel)
		if _, err := os.Stat(p); err != nil {
			return Files{}, &MissingError{What: p, Firmware: f, Packages: []string{s.fwPkg}}
		}
	}
	return files, nil
}

// kvmDevice is KVM's device node (a variable for tests).
var kvmDevice = "/dev/kvm"

// kvmUsable reports whether the guest can run under KVM here: same CPU
// family as the host and /dev/kvm opens read-write.
func kvmUsable(f Variant) bool {
	if f.ARM64() != (runtime.GOARCH == "arm64") || (!f.ARM64() && runtime.GOARCH != "amd64") {
		return false
	}
	fd, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	fd.Close()
	return true
}

// CaseOf is the case booting the entry called name, at index among the
// entries its menu shows, with that title, on the machine for kit target
// fw (Secure Boot enforced when secureBoot): the plain inputs a planner
// such as compose's Plan.BootCases gives.
func CaseOf(name string, index int, title string, fw firmware.Firmware, secureBoot bool) (Case, error) {
	m, err := For(fw, secureBoot)
	if err != nil {
		return Case{}, err
	}
	return Case{Entry: Entry{Name: name, Index: index, Title: title}, Firmware: m}, nil
}

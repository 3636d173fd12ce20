package compose

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/firmware"
)

// Machine is a firmware a kit is boot-tested on, with Secure Boot enforced
// or not.
type Machine struct {
	Firmware   firmware.Firmware `json:"firmware"`
	SecureBoot bool              `json:"secure_boot"`
}

func (m Machine) String() string {
	if m.SecureBoot {
		return string(m.Firmware) + "+secureboot"
	}
	return string(m.Firmware)
}

// BootCase is one boot of a menu entry on a machine, as the plan predicts
// it. A runner (compose/boottest) turns it into a QEMU boot; compose itself
// runs nothing.
type BootCase struct {
	Entry   string `json:"entry"`
	Index   int    `json:"index"` // position among the entries this machine's menu shows
	Title   string `json:"title"`
	Machine Machine
	// Marker is the manifest's `expect:` regexp, nil when it has none.
	Marker *regexp.Regexp `json:"-"`
	// Proof is what shows the entry booted when it has no Marker, decided
	// from the ISO's detection: "" the kernel banner (Linux families),
	// "memtest86+" its screen, "ipxe" its banner, "payload output" the first
	// output of another EFI or BIOS payload. The runner judges it
	// (compose/boottest's Proof has the same names).
	Proof string `json:"proof,omitempty"`
	// Unsigned is set when Secure Boot is expected to refuse the entry's
	// payload (not signed by a key Debian's shim trusts).
	Unsigned bool `json:"unsigned,omitempty"`
	// Enrol lists the ESP paths of the kit's certificates that make the entry boot under
	// Secure Boot once enrolled with MokManager (the vendor's, or sign_with's for a signed
	// copy); empty when the stick carries none for it.
	Enrol []string `json:"enrol,omitempty"`
}

// BootMachines lists the machines a kit is boot-tested on: each of its
// targets, and each with a signed shim once more with Secure Boot enforced
// when the kit asks for Secure Boot.
func BootMachines(m *config.Manifest) []Machine {
	var out []Machine
	for _, f := range m.Firmware {
		out = append(out, Machine{Firmware: f})
		if m.SecureBoot && f.SignedShim() {
			out = append(out, Machine{Firmware: f, SecureBoot: true})
		}
	}
	return out
}

// BootCases lists a boot of every menu entry on every machine in ms where
// the menu shows it, with the entry's position in that menu, the manifest's
// `expect:` marker, and whether Secure Boot is known to refuse it. The plan
// must be ready (ISOs inspected).
func (p *Plan) BootCases(m *config.Manifest, ms []Machine) ([]BootCase, error) {
	if !p.Ready {
		return nil, ErrNotReady
	}
	var cases []BootCase
	for _, mc := range ms {
		platform, cpu := mc.Firmware.GRUB()
		index := 0
		// The menu shows the Windows entries after the others.
		for _, windows := range []bool{false, true} {
			for i, e := range p.Entries {
				if isWindows(e) != windows || !shown(e, platform, cpu) {
					continue
				}
				c, err := bootCase(&m.ISOs[i], e, index, mc)
				if err != nil {
					return nil, err
				}
				cases = append(cases, c)
				index++
			}
		}
	}
	return cases, nil
}

func bootCase(iso *config.ISO, e EntryPlan, index int, mc Machine) (BootCase, error) {
	c := BootCase{Entry: e.Name, Index: index, Title: e.Title, Machine: mc, Proof: payloadProof(e.Boot)}
	if iso.Expect != "" {
		re, err := regexp.Compile(iso.Expect)
		if err != nil { // config validated it; this is a bug
			return c, fmt.Errorf("%s: expect: %w", iso.Name, err)
		}
		c.Marker = re
	}
	c.Unsigned = mc.SecureBoot && e.SecureBoot != nil && !e.SecureBoot.Boots
	if c.Unsigned && e.SecureBootPlan != nil {
		for _, k := range e.SecureBootPlan.Enrol {
			c.Enrol = append(c.Enrol, k.Path)
		}
	}
	return c, nil
}

// The default proofs a BootCase names.
const (
	ProofKernel  = ""
	ProofMemtest = "memtest86+"
	ProofIPXE    = "ipxe"
	ProofPayload = "payload output"
)

// payloadProof is the default proof for what the entry boots: a Linux
// family's kernel prints its banner; of the EFI family (a payload that is
// no Linux kernel), memtest86+ is known by its label (MT86PLUS_64) or its
// images (/boot/floppy.img, memtest*), iPXE by its images (ipxe.lkrn,
// ipxe.krn, the FAT image efi.img/esp.img holding its EFI build), and any
// other is proved by its first output of its own.
func payloadProof(d *bootloader.Detection) string {
	if d != nil && d.Family == bootloader.Windows {
		return ProofPayload // its loader's own output (a real bootmgr writes none to serial)
	}
	if d == nil || d.Family != bootloader.EFI {
		return ProofKernel
	}
	paths := []string{d.BIOSKernel, d.Kernel}
	for _, l := range d.EFILoaders {
		paths = append(paths, l)
	}
	has := func(word string) bool {
		for _, p := range paths {
			if strings.Contains(strings.ToLower(path.Base(p)), word) {
				return true
			}
		}
		return false
	}
	switch {
	case strings.HasPrefix(strings.ToUpper(d.Label), "MT86PLUS") || d.BIOSKernel == "/boot/floppy.img" || has("memtest"):
		return ProofMemtest
	case d.EFIImage != "" || has("ipxe"):
		return ProofIPXE
	}
	return ProofPayload
}

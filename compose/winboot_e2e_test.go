package compose

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config/firmware"
)

// Markers of bootloader/testdata/winstandin's stand-ins, and what Debian's
// shim prints when it runs from the Windows partition (which has no
// grubx64.efi): it ran, so the firmware's db check passed through GRUB's
// chainload.
const (
	winEFIStandin  = "COMPOSE-WINDOWS-EFI-STANDIN-NOSBAT"
	winBIOSStandin = "COMPOSE-WINDOWS-BOOTMGR-STANDIN"
	winShimRan     = `Failed to open \\efi\\boot\\grubx64\.efi - Not Found`
)

const winKit = `version: 1
label: WINKIT
firmware: [%s]
secure_boot: %v
menu:
  timeout: 10s
  console: serial
isos:
  - {name: win11, path: %s, sha256: %q, expect: '%s'}
  - {name: tiny, title: "Tiny (amd64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=amd64'}
`

// standinWindowsISO builds a Windows-layout UDF ISO (oscdimg's: files on
// the UDF side only, a real install.wim) whose loaders are stand-ins:
// bootmgr the real-mode one, bootx64.efi the given EFI program.
func standinWindowsISO(t *testing.T, dir string, efi []byte) string {
	testenv.Tools(t, "genisoimage", "wimcapture")
	bootmgr, err := os.ReadFile("../bootloader/testdata/winstandin/bootmgr")
	if err != nil {
		t.Fatal(err)
	}
	tree, content := filepath.Join(dir, "tree"), filepath.Join(dir, "content")
	for p, b := range map[string][]byte{"tree/bootmgr": bootmgr, "tree/efi/boot/bootx64.efi": efi,
		"tree/sources/boot.wim": []byte("stand-in Windows PE"), "tree/README.TXT": []byte("UDF\n"), "content/a.dll": []byte("MZ")} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Run(t, "wimcapture", content, filepath.Join(tree, "sources/install.wim"), "Windows 11 Pro")
	iso := filepath.Join(dir, "win11.iso")
	testenv.Run(t, "genisoimage", "-quiet", "-udf", "-V", "WIN11", "-o", iso, "-hide", "bootmgr", "-hide", "efi", "-hide", "sources", tree)
	return iso
}

// TestBootWindowsStandins boots a kit compose built holding a Windows-layout
// ISO and the tiny Linux ISO: the Windows entry reaches its stand-in on
// BIOS (bootmgr, through ntldr) and UEFI (the EFI stand-in, chainloaded),
// and under Secure Boot Debian's Microsoft-signed shim as the Windows
// loader runs through shim → GRUB → chainload; the Linux entry still boots
// beside it. The stand-ins are not Windows: see README's Windows section.
func TestBootWindowsStandins(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "boot tests: minutes under TCG; skipped with -short")
	}
	testenv.Tools(t, "qemu-system-x86_64", "xorriso", "apt-get", "dpkg", "mkinitramfs")
	dir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := (&fixture.Cache{Dir: dir, Log: func(s string) { t.Log(s) }}).MinimalISO(fixture.AMD64, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	efi, err := os.ReadFile("../bootloader/testdata/winstandin/nosbat-x64.efi")
	if err != nil {
		t.Fatal(err)
	}
	shim := signedShim(t)
	for _, c := range []struct {
		name       string
		firmware   string
		secureBoot bool
		loader     []byte
		expect     string
		matrix     map[boottest.Variant][]string
	}{
		{"bios and uefi", "bios, uefi-x64", false, efi, winBIOSStandin + "|" + winEFIStandin,
			map[boottest.Variant][]string{boottest.BIOS: {"win11", "tiny"}, boottest.UEFI: {"win11", "tiny"}}},
		{"secure boot", "uefi-x64", true, shim, winShimRan,
			map[boottest.Variant][]string{boottest.UEFISB: {"win11", "tiny"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			win := standinWindowsISO(t, d, c.loader)
			manifest := fmt.Sprintf(winKit, c.firmware, c.secureBoot, win, sha256File(t, win), c.expect, tiny, sha256File(t, tiny))
			m, img, p := e2eCompose(t, d, manifest)
			if len(p.Windows) != 1 {
				t.Fatalf("no Windows partition: %s", humanPlan(p))
			}
			e2eBoot(t, m, img, p, c.matrix)
		})
	}
}

// signedShim is the Microsoft-signed shim compose puts on the ESP.
func signedShim(t *testing.T) []byte {
	files, err := bootloader.ESPFiles(bootloader.ESPOptions{Targets: []firmware.Firmware{firmware.UEFIX64}, SecureBoot: true, StickID: "winkit01"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f.Path == "/EFI/BOOT/BOOTX64.EFI" {
			return f.Data
		}
	}
	t.Fatal("no /EFI/BOOT/BOOTX64.EFI among the ESP files")
	return nil
}

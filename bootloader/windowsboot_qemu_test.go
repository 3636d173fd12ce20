package bootloader

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/config/firmware"
)

// Debian's ovmf ships a variable store whose PK, KEK and db hold one test certificate, and
// that certificate's private key (passphrase "snakeoil", README.Debian): a db key of our own
// without building a variable store.
const (
	snakeoilVars = "/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd"
	snakeoilKey  = "/usr/share/ovmf/PkKek-1-snakeoil.key"
	snakeoilCert = "/usr/share/ovmf/PkKek-1-snakeoil.pem"
)

const (
	standinNoSBAT = "COMPOSE-WINDOWS-EFI-STANDIN-NOSBAT"
	standinSBAT   = "COMPOSE-WINDOWS-EFI-STANDIN-SBAT"
	winLabel      = "WINSTANDIN"
)

// winStick is a stick as compose lays out a Windows entry: p1 BIOS boot, p2 the ESP
// (ESPFiles, with esp replacing files by path), p3 a FAT32 partition labelled winLabel
// holding win (path → bytes). cfg is the ESP's grub.cfg.
func winStick(t *testing.T, dir string, cfg []byte, esp map[string][]byte, win map[string][]byte) string {
	t.Helper()
	needTool(t, "mkfs.fat", "mmd", "mcopy", "sgdisk", "fsck.fat")
	files, err := ESPFiles(ESPOptions{Targets: []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}, SecureBoot: true, StickID: "winboot01"})
	must(t, err)
	espFiles := map[string][]byte{ConfigPath: cfg}
	for _, f := range files {
		espFiles[f.Path] = f.Data
	}
	for p, b := range esp {
		espFiles[p] = b
	}
	espImg := winFATImage(t, dir, "esp.img", "COMPOSE", 48, espFiles)
	winImg := winFATImage(t, dir, "win.img", winLabel, 40, win)

	img := filepath.Join(dir, "stick.img")
	must(t, os.WriteFile(img, nil, 0o644))
	must(t, os.Truncate(img, (48+40+3)<<20))
	run(t, "sgdisk", "-n", "1:2048:4095", "-t", "1:EF02", "-n", "2:4096:+48M", "-t", "2:EF00",
		"-n", "3:0:+40M", "-t", "3:0700", "-c", "3:"+winLabel, img)
	bios, err := BIOSInstall(2048, 2048)
	must(t, err)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	espStart := int64(4096 * 512)
	for _, w := range []struct {
		off  int64
		data []byte
	}{{0, bios.BootCode}, {2048 * 512, bios.Core}, {espStart, espImg}, {espStart + 48<<20, winImg}} {
		_, err := f.WriteAt(w.data, w.off)
		must(t, err)
	}
	must(t, f.Sync())
	run(t, "sgdisk", "-v", img)
	return img
}

// winFATImage builds a FAT32 filesystem of mib MiB labelled label holding files and checks it.
func winFATImage(t *testing.T, dir, name, label string, mib int64, files map[string][]byte) []byte {
	t.Helper()
	img := filepath.Join(dir, name)
	must(t, os.WriteFile(img, nil, 0o644))
	must(t, os.Truncate(img, mib<<20))
	run(t, "mkfs.fat", "-F", "32", "-n", label, img)
	made := map[string]bool{"/": true}
	i := 0
	for p, b := range files {
		var chain []string
		for d := filepath.Dir(p); !made[d]; d = filepath.Dir(d) {
			chain = append([]string{d}, chain...)
			made[d] = true
		}
		for _, d := range chain {
			run(t, "mmd", "-i", img, "::"+d)
		}
		i++
		tmp := filepath.Join(dir, fmt.Sprintf("%s.%d", name, i))
		must(t, os.WriteFile(tmp, b, 0o644))
		run(t, "mcopy", "-i", img, tmp, "::"+p)
	}
	run(t, "fsck.fat", "-n", img)
	b, err := os.ReadFile(img)
	must(t, err)
	return b
}

// winMenu is compose's menu with one Windows entry, booted at once.
func winMenu(t *testing.T, w WindowsEntry) []byte {
	t.Helper()
	w.ID, w.Title = "win", "Windows stand-in"
	cfg, err := Render(Menu{Console: ConsoleSerial, Default: "win", Windows: []WindowsEntry{w}}, nil)
	must(t, err)
	return cfg
}

// sbsignWith signs b with key and cert (after removing any signature it has) and returns
// the signed bytes.
func sbsignWith(t *testing.T, dir, name string, b []byte, key, cert string) []byte {
	t.Helper()
	needTool(t, "sbsign", "sbattach")
	in, out := filepath.Join(dir, name+".in"), filepath.Join(dir, name+".signed")
	must(t, os.WriteFile(in, b, 0o644))
	// Removing fails on an unsigned image: nothing to remove then.
	_ = exec.Command("sbattach", "--remove", in).Run()
	run(t, "sbsign", "--key", key, "--cert", cert, "--output", out, in)
	s, err := os.ReadFile(out)
	must(t, err)
	return s
}

// winBoot boots img under files (TCG) and returns the console once every wanted line has
// shown; it fails at a line failOn matches, when QEMU stops, or at the deadline.
func winBoot(t *testing.T, dir, img string, files boottest.Files, want []string, failOn string) string {
	t.Helper()
	m := boottest.VM{Image: img, Firmware: files.Firmware, Memory: 512, Files: &files, Accel: boottest.AccelTCG}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	start := time.Now()
	g, err := boottest.Start(ctx, m, boottest.GuestOptions{SerialLog: filepath.Join(dir, string(files.Firmware)+".log")})
	must(t, err)
	defer g.Close()
	out, err := g.Expect(ctx, boottest.Expect{Want: want, Fail: regexp.MustCompile(failOn)})
	if err != nil {
		t.Fatalf("%s: %v after %s\n%s", files.Firmware, err, time.Since(start).Round(time.Second), tail(plainText(out)))
	}
	t.Logf("%s: reached %q in %s under %s", files.Firmware, want, time.Since(start).Round(time.Second), g.Accel)
	return out
}

func locate(t *testing.T, v boottest.Variant) boottest.Files {
	t.Helper()
	f, err := boottest.Locate(v)
	if err != nil {
		missing(t, "%v", err)
	}
	return f
}

func readStandin(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "winstandin", name))
	must(t, err)
	return b
}

// The refusals a Secure Boot case may end in: shim's verification ("Verification failed:
// (0x1A) Security Violation"), the firmware's ("Access Denied"), GRUB's ("error: …").
const sbRefusal = `Verification failed|Security Violation|Access Denied|bad shim signature|error: |grub rescue>`

// TestWindowsChainSBATlessUnderShim settles issue 26's known risk in QEMU: under Secure
// Boot, compose's chain (Debian's shim 16.1 → Debian's GRUB 2.12, both unchanged) chainloads
// an EFI loader that a db key signs and that has no .sbat section, as Windows' bootmgfw.efi.
// The firmware's db is Debian's snakeoil store (OVMF_VARS_4M.snakeoil.fd), so shim is
// re-signed with that key for the firmware to start it; shim itself is unchanged and still
// verifies GRUB with its own Debian certificate. The unsigned stand-in must be refused, or
// the case would not show that anything was checked: GRUB's shim_lock verifier refuses it
// ("bad shim signature"), so the signed ones passed shim's shim_verify (verify.c), which
// skips the missing .sbat because it runs in_protocol.
func TestWindowsChainSBATlessUnderShim(t *testing.T) {
	qemuTest(t)
	needTool(t, "sbsign", "sbattach", "openssl")
	for _, p := range []string{snakeoilVars, snakeoilKey, snakeoilCert} {
		needFile(t, p, "ovmf")
	}
	sb := locate(t, boottest.UEFISB)
	sb.Vars = snakeoilVars
	dir := t.TempDir()
	shim := shimx64(t)
	key := filepath.Join(dir, "snakeoil.key")
	run(t, "openssl", "pkey", "-in", snakeoilKey, "-passin", "pass:snakeoil", "-out", key)
	esp := map[string][]byte{"/EFI/BOOT/BOOTX64.EFI": sbsignWith(t, dir, "shim", shim, key, snakeoilCert)}
	// A key of our own that no store holds: a signature alone must not pass.
	otherKey, otherCert := filepath.Join(dir, "other.key"), filepath.Join(dir, "other.pem")
	run(t, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=compose test key in no db/",
		"-days", "1", "-keyout", otherKey, "-out", otherCert)
	cases := []struct {
		name    string
		standin []byte
		want    string // a line that must show
		failOn  string
	}{
		{"db-signed, no .sbat", sbsignWith(t, dir, "nosbat", readStandin(t, "nosbat-x64.efi"), key, snakeoilCert), standinNoSBAT, sbRefusal},
		{"db-signed, .sbat", sbsignWith(t, dir, "sbat", readStandin(t, "sbat-x64.efi"), key, snakeoilCert), standinSBAT, sbRefusal},
		{"unsigned, no .sbat (refused)", readStandin(t, "nosbat-x64.efi"), "error: bad shim signature", standinNoSBAT},
		{"signed by a key not in db, no .sbat (refused)", sbsignWith(t, dir, "otherkey", readStandin(t, "nosbat-x64.efi"), otherKey, otherCert), "error: bad shim signature", standinNoSBAT},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(dir, fmt.Sprintf("c%x", len(c.name)))
			must(t, os.MkdirAll(d, 0o755))
			cfg := winMenu(t, WindowsEntry{Label: winLabel, EFIX64: "/efi/boot/bootx64.efi"})
			img := winStick(t, d, cfg, esp, map[string][]byte{"/efi/boot/bootx64.efi": c.standin})
			out := winBoot(t, d, img, sb, []string{c.want}, c.failOn)
			t.Logf("console tail:\n%s", tail(plainText(out)))
		})
	}
}

// TestWindowsEntryBootsStandins boots compose's Windows entry (Render's, unchanged) on each
// firmware, from a FAT32 partition of its own found by its label, into a stand-in for the
// Windows loader that firmware would start:
//   - uefi-x64: the SBAT-less EFI stand-in, unsigned, Secure Boot off;
//   - uefi-x64-sb (Microsoft's keys): Debian's shim, a Microsoft-signed loader, as
//     /efi/boot/bootx64.efi: it runs only if the db check passes through GRUB's chainload,
//     and shows it runs by failing to find its own second stage on that partition. It
//     carries .sbat: the SBAT-less case is TestWindowsChainSBATlessUnderShim's;
//   - bios: the real-mode bootmgr stand-in, started by ntldr.
func TestWindowsEntryBootsStandins(t *testing.T) {
	qemuTest(t)
	dir := t.TempDir()
	shim := shimx64(t)
	w := WindowsEntry{Label: winLabel, EFIX64: "/efi/boot/bootx64.efi", BIOS: "/bootmgr"}
	for _, c := range []struct {
		name   string
		fw     boottest.Variant
		label  string // the entry's; "" = winLabel
		marker string // the entry's, also put on the partition
		loader []byte
		want   string
		failOn string
	}{
		{"uefi-x64", boottest.UEFI, "", "", readStandin(t, "nosbat-x64.efi"), standinNoSBAT, sbRefusal},
		{"uefi-x64-sb", boottest.UEFISB, "", "", shim, `Failed to open \efi\boot\grubx64.efi - Not Found`, `Access Denied|bad shim signature|Security Violation|` + standinNoSBAT},
		{"bios", boottest.BIOS, "", "", nil, "COMPOSE-WINDOWS-BOOTMGR-STANDIN", `error: |grub rescue>|` + standinNoSBAT},
		// The label matches nothing, the marker file is on the Windows partition: found.
		{"bios, found by marker", boottest.BIOS, "NOSUCHLABEL", "/compose-win.marker", nil, "COMPOSE-WINDOWS-BOOTMGR-STANDIN", `error: |grub rescue>|` + standinNoSBAT},
		// No partition has the label: search says "error: no such device", and the entry
		// says which partition it missed instead of starting what root still points to.
		{"bios, label not found", boottest.BIOS, "NOSUCHLABEL", "", nil, "Windows partition not found (label NOSUCHLABEL)", `grub rescue>|COMPOSE-WINDOWS-BOOTMGR-STANDIN`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := filepath.Join(dir, strings.NewReplacer(" ", "_", ",", "").Replace(c.name)) // QEMU splits -drive on commas
			e := w
			if c.label != "" {
				e.Label = c.label
			}
			must(t, os.MkdirAll(d, 0o755))
			win := map[string][]byte{"/bootmgr": readStandin(t, "bootmgr")}
			if c.loader != nil {
				win["/efi/boot/bootx64.efi"] = c.loader
			} else {
				win["/efi/boot/bootx64.efi"] = readStandin(t, "nosbat-x64.efi")
			}
			if c.marker != "" {
				e.Marker = c.marker
				win[c.marker] = []byte("winboot01\n")
			}
			img := winStick(t, d, winMenu(t, e), nil, win)
			out := winBoot(t, d, img, locate(t, c.fw), []string{c.want}, c.failOn)
			t.Logf("console tail:\n%s", tail(plainText(out)))
		})
	}
}

// shimx64 is the Microsoft-signed shim ESPFiles puts on the ESP.
func shimx64(t *testing.T) []byte {
	t.Helper()
	files, err := ESPFiles(ESPOptions{Targets: []firmware.Firmware{firmware.UEFIX64}, SecureBoot: true, StickID: "winboot01"})
	must(t, err)
	for _, f := range files {
		if f.Path == "/EFI/BOOT/BOOTX64.EFI" {
			return f.Data
		}
	}
	t.Fatal("ESPFiles has no /EFI/BOOT/BOOTX64.EFI")
	return nil
}

package bootloader

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/config/firmware"
)

// The family goldens through the real, embedded GRUB: every family fixture becomes an ISO
// (xorriso), all on one stick, and one boot per firmware runs each entry's body as
// rendered — loopback, probe, linux, initrd — then checks through the same (loop) device
// that every file the entry names is there. The kernels are placeholders GRUB rejects
// after reading them ("invalid magic number"): a path that did not resolve would say
// "not found" instead. Booting the real distros is not possible here; this proves the
// GRUB side of every family, the argument contracts are checked by the goldens.

// familyProbeCfg is the test's grub.cfg: the entries' bodies at top level, in order.
func familyProbeCfg(m Menu, entries []Entry) []byte {
	var w cfgWriter
	w.header(m)
	for i, e := range entries {
		w.devices(i, e)
		w.line(0, "echo", quote("FAMILY-BEGIN "+e.ID))
		w.body(0, m, e)
		// The console wraps at 80 columns: the echo names the file by its index.
		for i, f := range bootFiles(e.Boot) {
			w.line(0, "if [ -f "+quote(w.in(f))+" ]; then echo "+quote(fmt.Sprintf("FOUND %s %d", e.ID, i))+"; else echo "+
				quote(fmt.Sprintf("MISSING %s %d", e.ID, i))+"; fi")
		}
		w.line(0, "echo", quote("FAMILY-END "+e.ID))
	}
	w.line(0, "echo FAMILIES-DONE")
	return w.Bytes()
}

func bootFiles(d Detection) []string {
	out := append([]string{d.Kernel, d.BIOSKernel, d.EFIImage}, d.Initrd...)
	for _, a := range []Arch{X86_64, IA32, ARM64} { // in a fixed order: the echo names them by index
		if l := d.EFILoaders[a]; l != "" {
			out = append(out, l)
		}
	}
	var files []string
	for _, f := range out {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// fixtureISO writes f's tree and packs it with xorriso under f's volume label.
func fixtureISO(t *testing.T, dir string, f fixture) string {
	t.Helper()
	root := filepath.Join(dir, f.name+"-tree")
	for p, data := range f.files {
		if data == nil {
			data = []byte("placeholder " + p + "\n")
		}
		dst := filepath.Join(root, filepath.FromSlash(p))
		must(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		if path.Base(p) == "esp.img" {
			data = espImage(t, dir)
		}
		must(t, os.WriteFile(dst, data, 0o644))
	}
	out := filepath.Join(dir, f.name+".iso")
	run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", f.label, "-J", "-R", "-o", out, root)
	return out
}

// espImage: upstream iPXE's esp.img is a FAT image holding EFI/BOOT/BOOTX64.EFI.
func espImage(t *testing.T, dir string) []byte {
	img := filepath.Join(dir, "esp-fat.img")
	os.Remove(img)
	run(t, "mkfs.fat", "-C", img, "1440")
	run(t, "mmd", "-i", img, "::/EFI", "::/EFI/BOOT")
	payload := filepath.Join(dir, "BOOTX64.EFI")
	must(t, os.WriteFile(payload, []byte("placeholder PE\n"), 0o644))
	run(t, "mcopy", "-i", img, payload, "::/EFI/BOOT/BOOTX64.EFI")
	b, err := os.ReadFile(img)
	must(t, err)
	return b
}

// firmwareName keeps the subtests' names (bios, uefi) as they were.
func firmwareName(fw boottest.Variant) string {
	if fw == boottest.UEFI {
		return "uefi"
	}
	return string(fw)
}

func qemuTest(t *testing.T) {
	t.Helper()
	if testing.Short() {
		missing(t, "QEMU boots: skipped with -short")
	}
	needTool(t, "xorriso", "qemu-system-x86_64")
}

func TestGRUBReachesEveryFamilysFiles(t *testing.T) {
	qemuTest(t)
	dir := t.TempDir()
	isos := map[string]string{}
	var entries []Entry
	for _, f := range familyFixtures() {
		iso := fixtureISO(t, dir, f)
		fsys, label := openISO(t, iso)
		d, err := Inspect(fsys, label)
		must(t, err)
		e := Entry{ID: f.name, Title: f.label, ISOPath: "/isos/" + f.name + ".iso", Boot: d}
		isos[e.ISOPath] = iso
		entries = append(entries, e)
	}
	// Real EFI-payload ISOs from Debian: GRUB must accept memtest86+'s BIOS image
	// (linux16 floppy.img) and iPXE's, not only find them.
	for id, iso := range map[string]string{"memtest": "/usr/lib/memtest86+/memtest86+x64.iso", "ipxe": "/usr/lib/ipxe/ipxe.iso"} {
		needFile(t, iso, id)
		fsys, label := openISO(t, iso)
		d, err := Inspect(fsys, label)
		must(t, err)
		if d.BIOSKernel == "" {
			t.Fatalf("%s: no firmware.BIOS image detected", iso)
		}
		e := Entry{ID: id, ISOPath: "/isos/" + id + ".iso", Boot: d}
		isos[e.ISOPath] = iso
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.ID, b.ID) })
	m := Menu{Title: "families", Console: ConsoleSerial, Timeout: time.Second}
	cfg := familyProbeCfg(m, entries)
	for _, fw := range []boottest.Variant{boottest.BIOS, boottest.UEFI} {
		t.Run(firmwareName(fw), func(t *testing.T) {
			sub := filepath.Join(dir, firmwareName(fw))
			must(t, os.MkdirAll(sub, 0o755))
			img := stickImageCfg(t, sub, []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}, false, cfg, isos)
			out := bootQEMU(t, sub, img, boot{firmware: fw, want: []string{"FAMILIES-DONE"}, failOn: `grub rescue>|Kernel panic|Access Denied`})
			for _, e := range entries {
				checkFamilySegment(t, out, e)
			}
			if fw == boottest.BIOS {
				for _, id := range []string{"memtest", "ipxe"} {
					seg := out[strings.Index(out, "FAMILY-BEGIN "+id):strings.Index(out, "FAMILY-END "+id)]
					if strings.Contains(seg, "error: ") {
						t.Errorf("%s: GRUB refused its firmware.BIOS image:\n%s", id, seg)
					}
				}
			}
		})
	}
}

// checkFamilySegment: between the entry's markers, every file was found through (loop)
// and GRUB reported no missing file or device.
func checkFamilySegment(t *testing.T, out string, e Entry) {
	t.Helper()
	begin := strings.Index(out, "FAMILY-BEGIN "+e.ID)
	end := strings.Index(out, "FAMILY-END "+e.ID)
	if begin < 0 || end < begin {
		t.Errorf("%s: markers not on the console", e.ID)
		return
	}
	seg := out[begin:end]
	for i, f := range bootFiles(e.Boot) {
		if !strings.Contains(seg, fmt.Sprintf("FOUND %s %d", e.ID, i)) {
			t.Errorf("%s: %s not found through its loop device:\n%s", e.ID, f, seg)
		}
	}
	for _, bad := range []string{"MISSING", "not found", "already exists", "unknown filesystem", "no such"} {
		if strings.Contains(seg, bad) {
			t.Errorf("%s: %q on the console:\n%s", e.ID, bad, seg)
		}
	}
	var errs []string
	for _, l := range strings.Split(seg, "\n") {
		if strings.Contains(l, "error: ") && !strings.HasPrefix(strings.TrimSpace(l), "echo") {
			errs = append(errs, strings.TrimSpace(l))
		}
	}
	t.Logf("%s (%s): GRUB said %q", e.ID, e.Boot.Family, errs)
}

// Issue 11 item 6: the kit autoboots an entry whose ISO menu (loopback.cfg) waits; Esc
// leaves it, GRUB falls back to another entry, and that entry's own ISO must be the one
// behind (loop): its kernel, which the first ISO lacks, is read (and rejected, a
// placeholder) instead of "device name already exists" and "file not found".
func TestGRUBReleasesLoopAfterEsc(t *testing.T) {
	qemuTest(t)
	dir := t.TempDir()
	k := bzImage()
	nested := fixture{"nested", "NESTED", map[string][]byte{
		"/live/vmlinuz": k, "/live/initrd.img": nil,
		"/boot/grub/loopback.cfg": []byte("set timeout=-1\nmenuentry 'nested (loopback.cfg)' {\n  linux /live/vmlinuz findiso=${iso_path}\n  initrd /live/initrd.img\n}\n"),
	}}
	other := fixture{"other", "OTHER", map[string][]byte{"/slax/boot/vmlinuz": k, "/slax/boot/initrfs.img": nil, "/slax/01-core.sb": nil}}
	isos := map[string]string{}
	var entries []Entry
	for _, f := range []fixture{nested, other} {
		iso := fixtureISO(t, dir, f)
		fsys, label := openISO(t, iso)
		d, err := Inspect(fsys, label)
		must(t, err)
		e := Entry{ID: f.name, ISOPath: "/isos/" + f.name + ".iso", Boot: d}
		isos[e.ISOPath] = iso
		entries = append(entries, e)
	}
	if entries[0].Boot.Family != LoopbackCfg || entries[1].Boot.Family != LinuxLive {
		t.Fatalf("families %s %s", entries[0].Boot.Family, entries[1].Boot.Family)
	}
	cfg, err := Render(Menu{Title: "esc test", Timeout: time.Second, Default: "nested", Console: ConsoleSerial}, entries)
	must(t, err)
	// GRUB runs the fallback entries when the autobooted one returns, as it does after Esc:
	// "other" twice, so its own loop device is released and made again.
	cfg = []byte(strings.Replace(string(cfg), "set timeout_style=menu\n", "set timeout_style=menu\nset fallback='1 1'\n", 1))
	for _, fw := range []boottest.Variant{boottest.BIOS, boottest.UEFI} {
		t.Run(firmwareName(fw), func(t *testing.T) {
			sub := filepath.Join(dir, firmwareName(fw))
			must(t, os.MkdirAll(sub, 0o755))
			img := stickImageCfg(t, sub, []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}, false, cfg, isos)
			out := bootQEMU(t, sub, img, boot{firmware: fw, pressEnterOn: `nested \(loopback\.cfg\)`, key: "\x1b",
				want:   []string{"nested (loopback.cfg)", "Falling back to", "Failed to boot both default and fallback entries"},
				failOn: `already exists|not found|grub rescue>|device not found|still referenced`})
			// bootQEMU returns as soon as the wanted lines are there, even when a failure
			// arrived in the same read: look again.
			if m := regexp.MustCompile(`already exists|not found|still referenced`).FindString(out); m != "" {
				t.Errorf("%q on the console:\n%s", m, tail(plainText(out)))
			}
			i := strings.Index(out, "Falling back to")
			if n := strings.Count(out[i:], "invalid magic number"); n < 2 {
				t.Errorf("the fallback entry's kernel was read %d times after Esc, want 2:\n%s", n, tail(plainText(out)))
			}
		})
	}
}

package isoimage

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestInspectWindows inspects synthetic Windows installer ISOs laid out as
// oscdimg lays them out: everything on the UDF side, a README on the ISO
// 9660 side.
func TestInspectWindows(t *testing.T) {
	editions := []string{"Windows 11 Home", "Windows 11 Pro"}
	for _, tc := range []struct {
		iso    testenv.WindowsISO
		arches []bootloader.Arch
		parts  int
	}{
		{iso: testenv.WindowsISO{Label: "CCCOMA_X64FRE_EN-US_DV9", Install: "wim", BIOS: true, Editions: editions}, arches: []bootloader.Arch{bootloader.X86_64}},
		{iso: testenv.WindowsISO{Label: "ESD_X64", Install: "esd", BIOS: true, Editions: editions}, arches: []bootloader.Arch{bootloader.X86_64}},
		{iso: testenv.WindowsISO{Label: "SWM_X64", Install: "swm", BIOS: true, Editions: editions}, arches: []bootloader.Arch{bootloader.X86_64}, parts: 2},
		{iso: testenv.WindowsISO{Label: "ARM64_NOBIOS", Install: "wim", ARM64: true, Editions: editions[:1]}, arches: []bootloader.Arch{bootloader.ARM64}},
	} {
		t.Run(tc.iso.Install+"-"+tc.iso.Label, func(t *testing.T) {
			dir := t.TempDir()
			iso := tc.iso.Build(t, dir)
			r, err := Inspect(context.Background(), iso)
			if err != nil {
				t.Fatal(err)
			}
			d, w := r.Boot, r.Boot.Windows
			if d.Family != bootloader.Windows || w == nil {
				t.Fatalf("family %q, windows %+v", d.Family, w)
			}
			if r.Label != tc.iso.Label || !slices.Equal(d.Arches, tc.arches) || len(r.Warnings) != 0 {
				t.Errorf("label %q arches %v warnings %q", r.Label, d.Arches, r.Warnings)
			}
			if (w.BIOSLoader == "/bootmgr") != tc.iso.BIOS || w.BootImage != "/sources/boot.wim" || w.InstallKind != tc.iso.Install {
				t.Errorf("layout %+v", w)
			}
			if len(w.InstallParts) != tc.parts || w.InstallSize != installSize(t, dir, w) {
				t.Errorf("install parts %q, size %d", w.InstallParts, w.InstallSize)
			}
			var names []string
			for _, e := range w.Editions {
				names = append(names, e.Name)
			}
			if !slices.Equal(names, tc.iso.Editions) {
				t.Errorf("editions %q, want %q", names, tc.iso.Editions)
			}
			if r.SecureBoot != nil {
				t.Errorf("a secure boot claim for Windows' loader, which compose cannot chainload yet: %+v", r.SecureBoot)
			}
			text := strings.Join(d.Lines(), "\n")
			for _, want := range []string{"family: windows", "install image: " + w.InstallImage, "edition 1: " + tc.iso.Editions[0], "stick: a FAT32 partition of its own"} {
				if !strings.Contains(text, want) {
					t.Errorf("inspect lines lack %q:\n%s", want, text)
				}
			}
		})
	}
}

// An install image whose XML cannot be read leaves the editions out, with
// a warning that names it; the rest of the inspection stands.
func TestInspectWindowsStandInImage(t *testing.T) {
	iso := testenv.WindowsISO{Label: "STANDIN", Install: "esd", StandIn: true}.Build(t, t.TempDir())
	r, err := Inspect(context.Background(), iso)
	if err != nil {
		t.Fatal(err)
	}
	w := r.Boot.Windows
	if r.Boot.Family != bootloader.Windows || w == nil || w.InstallKind != "esd" || len(w.Editions) != 0 {
		t.Fatalf("family %q layout %+v", r.Boot.Family, w)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "cannot read the editions of /sources/install.esd: ") {
		t.Errorf("warnings %q", r.Warnings)
	}
}

// installSize adds up the sizes of the install image's parts in the tree
// the ISO was built from.
func installSize(t *testing.T, dir string, w *bootloader.WindowsLayout) int64 {
	parts := w.InstallParts
	if len(parts) == 0 {
		parts = []string{w.InstallImage}
	}
	var n int64
	for _, p := range parts {
		fi, err := os.Stat(dir + "/wintree" + p)
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// An ISO with a UDF side that is not a Windows installer (genisoimage
// -udf mirrors the ISO 9660 tree) is read from its ISO 9660 side as
// before; one lacking an install image is no Windows installer.
func TestNotWindows(t *testing.T) {
	dir := t.TempDir()
	iso := testenv.WindowsISO{Label: "NOINSTALL", BIOS: true}.Build(t, dir)
	im, err := Open(context.Background(), iso, "noinstall.iso")
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if im.UDF {
		t.Errorf("read from the UDF side without an install image")
	}
	if _, err := bootloader.Inspect(im, im.Label); err == nil {
		t.Errorf("an ISO 9660 side with only a README has a boot layout")
	}
}

// FuzzWindowsISO runs compose inspect's whole path on hostile variants of
// a small oscdimg-shaped ISO: ISO 9660, then the UDF side (compose/udf),
// Windows detection and the install image's XML (compose/wim). Any error
// is fine; a panic or a hang is not.
func FuzzWindowsISO(f *testing.F) {
	iso := testenv.WindowsISO{Label: "FUZZWIN", Install: "wim", BIOS: true, Editions: []string{"Pro"}, Content: 100}.Build(f, f.TempDir())
	b, err := os.ReadFile(iso)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := inspectBytes(b)
		if err == nil && r.Boot.Family == bootloader.Windows && r.Boot.Windows == nil {
			t.Fatal("family windows without its layout")
		}
	})
}

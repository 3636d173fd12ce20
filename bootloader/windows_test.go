package bootloader

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

func TestInspectWindowsLayouts(t *testing.T) {
	file := func(n int) *fstest.MapFile { return &fstest.MapFile{Data: make([]byte, n)} }
	for _, tc := range []struct {
		name   string
		fs     fstest.MapFS
		family Family
		kind   string
		parts  []string
		size   int64
		arches []Arch
	}{
		{"windows-11", fstest.MapFS{"bootmgr": file(1), "bootmgr.efi": file(1), "efi/boot/bootx64.efi": file(1),
			"sources/boot.wim": file(1), "sources/install.wim": file(5000)}, Windows, "wim", nil, 5000, []Arch{X86_64}},
		{"upper-case-esd", fstest.MapFS{"BOOTMGR": file(1), "EFI/BOOT/BOOTX64.EFI": file(1),
			"SOURCES/BOOT.WIM": file(1), "SOURCES/INSTALL.ESD": file(7)}, Windows, "esd", nil, 7, []Arch{X86_64}},
		{"split", fstest.MapFS{"efi/boot/bootaa64.efi": file(1), "sources/boot.wim": file(1),
			"sources/install.swm": file(10), "sources/install2.swm": file(20), "sources/install10.swm": file(30),
			"sources/install0.swm": file(1000), "sources/installer.swm": file(1000)}, Windows, "swm",
			[]string{"/sources/install.swm", "/sources/install2.swm", "/sources/install10.swm"}, 60, []Arch{ARM64}},
		{"no-install-image", fstest.MapFS{"bootmgr": file(1), "efi/boot/bootx64.efi": file(1), "sources/boot.wim": file(1)}, "", "", nil, 0, nil},
		{"no-loader", fstest.MapFS{"sources/boot.wim": file(1), "sources/install.wim": file(1)}, "", "", nil, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Inspect(tc.fs, "LABEL")
			if tc.family == "" {
				if err == nil {
					t.Fatalf("detected %s", d.Family)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := d.Windows
			if d.Family != tc.family || w == nil || w.InstallKind != tc.kind || !slices.Equal(w.InstallParts, tc.parts) ||
				w.InstallSize != tc.size || !slices.Equal(d.Arches, tc.arches) || d.Label != "LABEL" {
				t.Fatalf("got %+v %+v", d, w)
			}
			if !strings.Contains(strings.Join(d.Lines(), "\n"), "family: windows") {
				t.Errorf("lines: %q", d.Lines())
			}
		})
	}
}

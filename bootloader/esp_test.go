package bootloader

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader/assets"
	"github.com/usbkit/compose/config/firmware"
)

func paths(fs []File) []string {
	var p []string
	for _, f := range fs {
		p = append(p, f.Path)
	}
	slices.Sort(p)
	return p
}

func TestESPFilesPerTarget(t *testing.T) {
	for _, tc := range []struct {
		targets []firmware.Firmware
		want    []string
	}{
		{[]firmware.Firmware{firmware.BIOS}, []string{"/boot/grub/compose-s1.id", "/boot/grub/compose.stick"}},
		{[]firmware.Firmware{firmware.UEFIX64, firmware.BIOS, firmware.UEFIX64}, []string{"/EFI/BOOT/BOOTX64.EFI", "/EFI/BOOT/grubx64.efi", "/EFI/BOOT/mmx64.efi",
			"/EFI/debian/grub.cfg", "/boot/grub/compose-s1.id", "/boot/grub/compose.stick"}},
		{[]firmware.Firmware{firmware.UEFIARM64, firmware.UEFIIA32}, []string{"/EFI/BOOT/BOOTAA64.EFI", "/EFI/BOOT/BOOTIA32.EFI", "/EFI/BOOT/grubaa64.efi",
			"/EFI/BOOT/mmaa64.efi", "/EFI/debian/grub.cfg", "/boot/grub/compose-s1.id", "/boot/grub/compose.stick"}},
	} {
		fs, err := ESPFiles(ESPOptions{Targets: tc.targets, StickID: "s1"})
		if err != nil {
			t.Fatal(err)
		}
		if got := paths(fs); !slices.Equal(got, tc.want) {
			t.Errorf("%v:\n got %q\nwant %q", tc.targets, got, tc.want)
		}
		for _, f := range fs {
			if strings.Contains(strings.ToLower(f.Path), "fb") {
				t.Errorf("fallback binary shipped: %s", f.Path)
			}
		}
	}
}

func TestESPFilesContent(t *testing.T) {
	fs, err := ESPFiles(ESPOptions{Targets: []firmware.Firmware{firmware.UEFIX64}, SecureBoot: true, StickID: "Kit_2024-a"})
	if err != nil {
		t.Fatal(err)
	}
	shim, _ := assets.Read(assets.ShimX64)
	for _, f := range fs {
		switch f.Path {
		case "/EFI/BOOT/BOOTX64.EFI":
			if !bytes.Equal(f.Data, shim) {
				t.Error("BOOTX64.EFI is not the embedded shim")
			}
		case "/EFI/debian/grub.cfg":
			want := "search --no-floppy --set=root --file /boot/grub/compose-Kit_2024-a.id\nset prefix=($root)/boot/grub\nconfigfile ($root)/boot/grub/grub.cfg\n"
			if string(f.Data) != want {
				t.Errorf("stub:\n%s", f.Data)
			}
		case "/boot/grub/compose-Kit_2024-a.id", BIOSMarkerPath:
			if string(f.Data) != "Kit_2024-a\n" {
				t.Errorf("%s: %q", f.Path, f.Data)
			}
		}
	}
	early, _ := assets.Read(assets.CoreEarly)
	if !strings.Contains(string(early), "--file "+BIOSMarkerPath) {
		t.Errorf("core.img's early config does not search %s:\n%s", BIOSMarkerPath, early)
	}
}

func TestESPFilesRejects(t *testing.T) {
	for _, o := range []ESPOptions{
		{Targets: []firmware.Firmware{firmware.UEFIX64}, StickID: "has space"},
		{Targets: []firmware.Firmware{firmware.UEFIX64}, StickID: ""},
		{Targets: []firmware.Firmware{firmware.UEFIX64}, StickID: strings.Repeat("a", 65)},
		{Targets: nil, StickID: "a"},
		{Targets: []firmware.Firmware{"uefi-riscv64"}, StickID: "a"},
	} {
		if _, err := ESPFiles(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

package bootloader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/usbkit/compose/bootloader/assets"
)

func TestBIOSInstallPatchesTheLayout(t *testing.T) {
	boot, _ := assets.Read(assets.BootImg)
	core, _ := assets.Read(assets.CoreImg)
	// What grub-mkimage / boot.img ship before patching: the defaults grub-bios-setup replaces.
	if binary.LittleEndian.Uint64(boot[0x5C:]) != 1 || boot[0x66] != 0xEB || boot[0x1FE] != 0x55 || boot[0x1FF] != 0xAA {
		t.Fatalf("embedded boot.img does not have GRUB's boot.S layout: % x", boot[0x58:0x68])
	}
	// diskboot.S: the blocklist at 0x1F4 starts at sector 2 until it is patched (GRUB 2.12's
	// diskboot.img is byte-identical to 2.06's; only the length at 0x1FC depends on core.img).
	if got := binary.LittleEndian.Uint64(core[0x1F4:]); got != 2 {
		t.Fatalf("core.img blocklist start %d before patching, want diskboot.S's 2", got)
	}
	sectors := uint64(len(core)+511) / 512
	if got := binary.LittleEndian.Uint16(core[0x1FC:]); uint64(got) != sectors-1 {
		t.Fatalf("core.img blocklist length %d, want %d", got, sectors-1)
	}
	if seg := binary.LittleEndian.Uint16(core[0x1FE:]); seg != 0x0820 {
		t.Fatalf("core.img load segment %#x", seg)
	}

	const p = 2048
	img, err := BIOSInstall(p, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b := img.BootCode
	if len(b) != 440 {
		t.Fatalf("boot code %d bytes: it must stop before the disk signature at 440", len(b))
	}
	if got := binary.LittleEndian.Uint64(b[0x5C:]); got != p {
		t.Errorf("boot.img kernel sector %d, want %d", got, p)
	}
	if b[0x64] != 0xFF || b[0x66] != 0x90 || b[0x67] != 0x90 {
		t.Errorf("boot drive / drive check: % x", b[0x64:0x68])
	}
	for i := range b {
		patched := (i >= 0x5C && i < 0x64) || i == 0x64 || i == 0x66 || i == 0x67
		if !patched && b[i] != boot[i] {
			t.Errorf("boot.img byte %#x changed", i)
		}
	}
	c := img.Core
	if got := binary.LittleEndian.Uint64(c[0x1F4:]); got != p+1 {
		t.Errorf("core.img blocklist start %d, want %d", got, p+1)
	}
	if !bytes.Equal(c[:0x1F4], core[:0x1F4]) || !bytes.Equal(c[0x1FC:], core[0x1FC:]) {
		t.Error("core.img changed outside the blocklist start")
	}
	if binary.LittleEndian.Uint64(core[0x1F4:]) == p+1 || binary.LittleEndian.Uint64(boot[0x5C:]) == p {
		t.Error("BIOSInstall modified the embedded images in place")
	}
}

func TestBIOSInstallRefusesWhatCannotBoot(t *testing.T) {
	core, _ := assets.Read(assets.CoreImg)
	need := uint64(len(core)+511) / 512
	if _, err := BIOSInstall(2048, need); err != nil {
		t.Errorf("exact fit refused: %v", err)
	}
	if _, err := BIOSInstall(2048, need-1); !errors.Is(err, ErrCoreTooBig) {
		t.Errorf("one sector short: %v", err)
	}
	if _, err := BIOSInstall(0, 4096); err == nil {
		t.Error("partition at LBA 0 accepted")
	}
	if _, err := patchBIOS(make([]byte, 100), core, 2048, 2048); err == nil {
		t.Error("short boot.img accepted")
	}
}

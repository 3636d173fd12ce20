package bootloader

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/usbkit/compose/bootloader/assets"
)

// Offsets in GRUB's i386-pc images (grub-bios-setup does the same patches).
const (
	bootKernelSector = 0x5C  // boot.img: LE64 LBA of core.img's first sector
	bootDrive        = 0x64  // boot.img: 0xFF = use the drive number the BIOS passed in DL
	bootDriveCheck   = 0x66  // boot.img: 2-byte jump that forces floppy probing; NOPed for disks
	coreBlocklist    = 0x1F4 // core.img (diskboot.img): LE64 LBA of the rest of core.img
	// BootCodeSize is how much of LBA 0 BIOSInstall returns; 440..511 (disk signature,
	// partition table, 0x55AA) stay as the protective MBR has them.
	BootCodeSize = 440
)

// ErrCoreTooBig is returned when core.img does not fit the BIOS boot partition.
var ErrCoreTooBig = errors.New("core.img does not fit the BIOS boot partition")

// BIOSImage is what the image builder writes for legacy BIOS boot.
type BIOSImage struct {
	BootCode []byte // BootCodeSize bytes for LBA 0
	Core     []byte // written at the BIOS boot partition's first LBA
}

// BIOSInstall patches the embedded boot.img and core.img for a BIOS boot partition
// (GPT type 21686148-6449-6E6F-744E-656564454649) starting at firstLBA, sectors long
// (512-byte sectors).
func BIOSInstall(firstLBA, sectors uint64) (BIOSImage, error) {
	boot, err := assets.Read(assets.BootImg)
	if err != nil {
		return BIOSImage{}, err
	}
	core, err := assets.Read(assets.CoreImg)
	if err != nil {
		return BIOSImage{}, err
	}
	return patchBIOS(boot, core, firstLBA, sectors)
}

func patchBIOS(boot, core []byte, firstLBA, sectors uint64) (BIOSImage, error) {
	if len(boot) != 512 || len(core) < 512 {
		return BIOSImage{}, fmt.Errorf("boot.img %d bytes, core.img %d bytes: not GRUB i386-pc images", len(boot), len(core))
	}
	if firstLBA == 0 {
		return BIOSImage{}, fmt.Errorf("BIOS boot partition at LBA 0")
	}
	need := (uint64(len(core)) + 511) / 512
	if need > sectors {
		return BIOSImage{}, fmt.Errorf("%w: needs %d sectors, partition has %d", ErrCoreTooBig, need, sectors)
	}
	b := append([]byte(nil), boot[:BootCodeSize]...)
	binary.LittleEndian.PutUint64(b[bootKernelSector:], firstLBA)
	b[bootDrive] = 0xFF
	b[bootDriveCheck], b[bootDriveCheck+1] = 0x90, 0x90
	c := append([]byte(nil), core...)
	binary.LittleEndian.PutUint64(c[coreBlocklist:], firstLBA+1)
	return BIOSImage{BootCode: b, Core: c}, nil
}

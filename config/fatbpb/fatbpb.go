// Package fatbpb reads the BIOS parameter block of a FAT boot sector: the
// one reader for compose/disk (which repairs the FAT32 volumes go-diskfs
// makes), compose/device (which always writes a FAT volume's metadata to
// a stick), compose/internal/fatedit (which edits a stick's ESP) and
// bootloader (which reads the EFI boot images inside ISOs). It sits under
// config, as the module's other shared leaf packages do, because
// bootloader cannot import compose/internal.
//
// A boot sector may be hostile (an ISO's, a stick's): Parse checks every
// field it returns against the others before a caller sizes a read by it.
package fatbpb

import (
	"encoding/binary"
	"fmt"
)

// BPB is what a FAT boot sector says about its volume. Counts are sectors
// unless named otherwise.
type BPB struct {
	BytesPerSector    int64
	SectorsPerCluster int64
	Reserved          int64
	FATs              int64
	RootEntries       int64 // FAT12/16 root directory entries; 0 on FAT32
	FATSectors        int64 // one FAT's size
	TotalSectors      int64
	// FAT32 says the sector has the FAT32 extended BPB (its 16-bit FAT
	// size is 0); the fields below are read only then.
	FAT32       bool
	RootCluster uint32
	FSInfo      int64
	Backup      int64 // backup boot sector
	// Signed says the sector ends in the boot signature 55 AA.
	Signed bool
}

// Parse reads the BPB from a boot sector (at least 512 bytes). It fails,
// naming the field, when a field is out of the range every FAT volume
// keeps or when the reserved sectors, FATs and root directory leave no
// data area; which FAT types and sizes a caller handles is the caller's
// to check.
func Parse(b []byte) (BPB, error) {
	if len(b) < 512 {
		return BPB{}, fmt.Errorf("%d bytes, less than one sector", len(b))
	}
	le := binary.LittleEndian
	p := BPB{
		BytesPerSector:    int64(le.Uint16(b[11:])),
		SectorsPerCluster: int64(b[13]),
		Reserved:          int64(le.Uint16(b[14:])),
		FATs:              int64(b[16]),
		RootEntries:       int64(le.Uint16(b[17:])),
		TotalSectors:      int64(le.Uint16(b[19:])),
		FATSectors:        int64(le.Uint16(b[22:])),
		Signed:            b[510] == 0x55 && b[511] == 0xAA,
	}
	if p.TotalSectors == 0 {
		p.TotalSectors = int64(le.Uint32(b[32:]))
	}
	if p.FATSectors == 0 {
		p.FAT32 = true
		p.FATSectors = int64(le.Uint32(b[36:]))
		p.RootCluster = le.Uint32(b[44:])
		p.FSInfo, p.Backup = int64(le.Uint16(b[48:])), int64(le.Uint16(b[50:]))
	}
	return p, p.check()
}

func (p BPB) check() error {
	bps, spc := p.BytesPerSector, p.SectorsPerCluster
	switch {
	case bps < 512 || bps > 4096 || bps&(bps-1) != 0:
		return fmt.Errorf("%d bytes per sector", bps)
	case spc == 0 || spc&(spc-1) != 0:
		return fmt.Errorf("%d sectors per cluster", spc)
	case p.Reserved == 0:
		return fmt.Errorf("no reserved sectors")
	case p.FATs == 0 || p.FATs > 4:
		return fmt.Errorf("%d FATs", p.FATs)
	case p.FATSectors == 0:
		return fmt.Errorf("FAT size 0")
	case p.DataSector() >= p.TotalSectors:
		return fmt.Errorf("%d reserved sectors, %d FATs of %d sectors and %d root entries leave no data area in %d sectors",
			p.Reserved, p.FATs, p.FATSectors, p.RootEntries, p.TotalSectors)
	}
	return nil
}

// RootSector is the first sector of the FAT12/16 root directory: the one
// after the FATs.
func (p BPB) RootSector() int64 { return p.Reserved + p.FATs*p.FATSectors }

// DataSector is the first sector of the data area, cluster 2's.
func (p BPB) DataSector() int64 {
	return p.RootSector() + (p.RootEntries*32+p.BytesPerSector-1)/p.BytesPerSector
}

// Clusters is how many whole clusters the data area holds: numbers 2 to
// Clusters()+1.
func (p BPB) Clusters() int64 { return (p.TotalSectors - p.DataSector()) / p.SectorsPerCluster }

// MetadataBytes is how many bytes at the volume's start hold its boot
// sector, reserved sectors, FATs and (FAT12/16) root directory.
func (p BPB) MetadataBytes() int64 {
	return p.RootSector()*p.BytesPerSector + p.RootEntries*32
}

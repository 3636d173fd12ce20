// Package fatbpb reads the BIOS parameter block of a FAT boot sector: the
// one reader for compose/disk (which repairs the FAT32 volumes go-diskfs
// makes) and compose/device (which always writes a FAT volume's metadata
// to a stick).
package fatbpb

import "encoding/binary"

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
	// FAT32 only (FATSectors from the 32-bit field):
	RootCluster uint32
	FSInfo      int64
	Backup      int64 // backup boot sector
}

// Parse reads the BPB from a boot sector (at least 512 bytes); ok is false
// when b does not look like a FAT boot sector.
func Parse(b []byte) (p BPB, ok bool) {
	le := binary.LittleEndian
	if len(b) < 512 || b[510] != 0x55 || b[511] != 0xAA {
		return BPB{}, false
	}
	p = BPB{
		BytesPerSector:    int64(le.Uint16(b[11:])),
		SectorsPerCluster: int64(b[13]),
		Reserved:          int64(le.Uint16(b[14:])),
		FATs:              int64(b[16]),
		RootEntries:       int64(le.Uint16(b[17:])),
		TotalSectors:      int64(le.Uint16(b[19:])),
		FATSectors:        int64(le.Uint16(b[22:])),
	}
	if p.TotalSectors == 0 {
		p.TotalSectors = int64(le.Uint32(b[32:]))
	}
	if p.FATSectors == 0 { // FAT32: the extended BPB
		p.FATSectors = int64(le.Uint32(b[36:]))
		p.RootCluster = le.Uint32(b[44:])
		p.FSInfo, p.Backup = int64(le.Uint16(b[48:])), int64(le.Uint16(b[50:]))
	}
	bps := p.BytesPerSector
	if bps < 512 || bps > 4096 || bps&(bps-1) != 0 || p.SectorsPerCluster == 0 || p.Reserved == 0 || p.FATs == 0 || p.FATs > 4 {
		return BPB{}, false
	}
	return p, true
}

// MetadataBytes is how many bytes at the volume's start hold its boot
// sector, reserved sectors, FATs and (FAT12/16) root directory.
func (p BPB) MetadataBytes() int64 {
	return (p.Reserved+p.FATs*p.FATSectors)*p.BytesPerSector + p.RootEntries*32
}

package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// headroom is what size: auto adds to a partition's contents: 32 MiB plus 2%.
// The fixed part leaves room to add or regenerate small files (grub.cfg, a
// marker) on the stick later; the proportional part absorbs our estimates of
// file-system metadata (directory slots, ext4 extent blocks) being a little
// low, so an auto-sized image never fails for lack of space.
func headroom(content int64) int64 { return 32*mib + content/50 }

// ext4Need is the room files and directories need on ext4 (4 KiB blocks at
// worst; a few extent-tree blocks per GiB).
func ext4Need(files []File) int64 {
	var n int64
	dirs := map[string]bool{}
	for _, f := range files {
		n += alignUp(f.size(), 4*kib) + 4*kib*(1+f.size()/gib)
		for p := parentDir(f.Path); p != "/" && !dirs[p]; p = parentDir(p) {
			dirs[p] = true
		}
	}
	return n + int64(len(dirs)+1)*4*kib
}

// ext4Size is the partition size that holds need bytes: go-diskfs's inode
// tables take up to ~3.2% (one 256-byte inode per 8 KiB), plus bitmaps,
// descriptors, superblock backups and the journal.
func ext4Size(need int64) int64 {
	return alignUp(max(ext4Min, need+need/20+8*mib+journalBytes(need)), mib)
}

func (l *Layout) place(spec Spec, esp, data []File) error {
	espMin, _ := smallestFAT(esp, 0)
	espContent := fatNeed(esp, 512)
	dataContent := ext4Need(data)
	dataMin := int64(0)
	if len(data) > 0 {
		dataMin = ext4Size(dataContent)
	}
	fixed := int64(firstLBA)*sectorSize + gptTailSize
	if spec.BIOSBoot != nil {
		fixed += mib
	}
	start := fixed - gptTailSize
	persist := persistBytes(spec)
	vols, volBytes := volumeSizes(spec.Volumes)
	minSize := fixed + espMin + dataMin + volBytes + persist
	var espSize, dataSize int64
	switch {
	case spec.Size == 0 && kept(spec):
		return errors.New("persistence partitions kept at their offsets need the image size")
	case spec.Size == 0:
		espSize, _ = smallestFAT(esp, espMin+headroom(espContent))
		if len(data) > 0 {
			dataSize = alignUp(dataMin+headroom(dataContent), mib)
		}
		l.Headroom = espSize - espMin + dataSize - dataMin
		return l.assign(spec, esp, data, vols, espSize, dataSize, start+espSize+dataSize+volBytes+persist)
	case spec.Size < minSize:
		return fmt.Errorf("%w: %d bytes (%.1f MiB) given, the contents need at least %d bytes (%.1f MiB): %d bytes (%.1f MiB) more",
			ErrTooSmall, spec.Size, mibs(spec.Size), minSize, mibs(minSize), minSize-spec.Size, mibs(minSize-spec.Size))
	}
	end := alignDown(spec.Size-gptTailSize, mib)
	_, blockStart, err := persistBlock(spec, end)
	if err != nil {
		return err
	}
	blockStart -= volBytes // the volumes lie right in front of the persistence partitions
	if room := blockStart - start; room < espMin+dataMin {
		return fmt.Errorf("%w: the partitions in front of the persistence partitions (from byte %d) need at least %d bytes (%.1f MiB), %d bytes (%.1f MiB) more than there are",
			ErrTooSmall, blockStart, espMin+dataMin, mibs(espMin+dataMin), espMin+dataMin-room, mibs(espMin+dataMin-room))
	}
	if espSize, dataSize, err = l.split(blockStart-start, esp, espMin, espContent, dataMin); err != nil {
		return err
	}
	return l.assign(spec, esp, data, vols, espSize, dataSize, end)
}

// maxESP keeps the FAT length within go-diskfs's 16 bits; an explicit size
// beyond it leaves the rest of the disk unpartitioned.
const maxESP = 240 * gib

// split shares an explicit size's room between the ESP and the data
// partition: the ESP gets its headroom when it fits, the data partition the
// rest; without a data partition the ESP takes everything.
func (l *Layout) split(avail int64, esp []File, espMin, espContent, dataMin int64) (int64, int64, error) {
	avail = alignDown(avail, mib)
	if dataMin > 0 {
		espSize, _ := smallestFAT(esp, espMin+headroom(espContent))
		if espSize > avail-dataMin {
			espSize = espMin
		}
		return espSize, avail - espSize, nil
	}
	upto := min(avail, maxESP)
	if upto < avail {
		l.Notes = append(l.Notes, fmt.Sprintf("ESP capped at %d bytes; %d bytes at the end stay unpartitioned", upto, avail-upto))
	}
	s, g, err := largestFAT(upto)
	if err != nil || g.DataBytes() < fatNeed(esp, g.ClusterSize)+fatSlack*g.ClusterSize {
		s = espMin
	}
	if s < upto {
		l.Notes = append(l.Notes, fmt.Sprintf("ESP is %d bytes, not %d: go-diskfs v1.9.4 writes a short FAT at the larger size", s, upto))
	}
	return s, 0, nil
}

func mibs(n int64) float64 { return float64(n) / float64(mib) }

// assign lays the partitions out from LBA 2048 on, 1 MiB aligned, and the
// persistence partitions below end, where the partitions end.
func (l *Layout) assign(spec Spec, esp, data []File, vols []int64, espSize, dataSize, end int64) error {
	l.DiskGUID = seedGUID(spec.Seed, "disk")
	lba := uint64(firstLBA)
	add := func(p Partition, size int64) {
		p.Index = len(l.Partitions) + 1
		p.FirstLBA, p.LastLBA = lba, lba+uint64(size/sectorSize)-1
		p.Offset, p.Size = int64(lba)*sectorSize, size
		p.GUID = seedGUID(spec.Seed, fmt.Sprintf("partition %d %s", p.Index, p.Type))
		l.Partitions = append(l.Partitions, p)
		lba = p.LastLBA + 1
	}
	if spec.BIOSBoot != nil {
		add(Partition{Name: "BIOS boot", Type: TypeBIOSBoot, FS: FSRaw, Content: int64(len(spec.BIOSBoot))}, mib)
	}
	g, err := fatGeometry(espSize)
	if err != nil {
		return fmt.Errorf("ESP of %d bytes: %w", espSize, err)
	}
	g.VolumeID = binary.LittleEndian.Uint32(seedBytes(spec.Seed, "fat volume id"))
	add(Partition{Name: orDefault(spec.ESP.Name, "EFI System"), Type: TypeESP, FS: FSFAT32,
		Label: orDefault(spec.ESP.Label, "NO NAME"), FAT: &g, Files: esp, Content: fatNeed(esp, g.ClusterSize)}, espSize)
	if len(data) > 0 {
		add(Partition{Name: orDefault(spec.Data.Name, "data"), Type: TypeLinuxData, FS: FSExt4,
			Label: orDefault(spec.Data.Label, "data"), Files: data, Content: ext4Need(data)}, dataSize)
	}
	if err := volumePartitions(spec, vols, add); err != nil {
		return err
	}
	block, _, err := persistBlock(spec, end)
	if err != nil {
		return err
	}
	for _, p := range block {
		p.Index = len(l.Partitions) + 1
		p.FirstLBA, p.LastLBA = uint64(p.Offset/sectorSize), uint64((p.Offset+p.Size)/sectorSize)-1
		if p.GUID == "" {
			p.GUID = seedGUID(spec.Seed, "persistence "+p.Label)
		}
		l.Partitions = append(l.Partitions, p)
	}
	l.Size = max(spec.Size, max(int64(lba)*sectorSize, end)+gptTailSize)
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// seedBytes derives 32 bytes for purpose from the seed.
func seedBytes(seed []byte, purpose string) []byte {
	h := sha256.New()
	h.Write([]byte("usbkit compose image\x00"))
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(seed)
	return h.Sum(nil)
}

// seedGUID derives an RFC 4122 version-4-shaped GUID for purpose.
func seedGUID(seed []byte, purpose string) string {
	var u uuid.UUID
	copy(u[:], seedBytes(seed, purpose))
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u.String()
}

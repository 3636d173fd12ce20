package disk

import (
	"encoding/binary"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/config/fatbpb"
)

// fatFixer repairs what go-diskfs v1.9.4 leaves wrong in a FAT32 volume it
// created (bugs 2, 3 and 5 in the package documentation, and its time.Now()
// stamps), working on
// the raw bytes: it re-reads the BPB and FAT and walks every directory.
type fatFixer struct {
	f          *os.File
	off        int64 // partition offset in the image
	bps, spc   int64
	reserved   int64
	fatSectors int64
	clusters   uint32
	rootClus   uint32
	fsinfo     int64
	backup     int64
	fat        []byte    // first FAT, patched in memory and written to both copies
	t          time.Time // every entry's timestamps
}

// fixFAT applies every repair to the FAT32 volume at off.
func fixFAT(f *os.File, off int64, hiddenSectors uint32, volumeID uint32, t time.Time) error {
	x := &fatFixer{f: f, off: off, t: t}
	if err := x.readBPB(); err != nil {
		return err
	}
	if err := x.walk(x.rootClus, 0); err != nil {
		return err
	}
	if err := x.writeFATs(); err != nil {
		return err
	}
	if err := x.patchBootSectors(hiddenSectors, volumeID); err != nil {
		return err
	}
	return x.writeFSInfo()
}

func (x *fatFixer) readAt(n, at int64) ([]byte, error) {
	b := make([]byte, n)
	if _, err := x.f.ReadAt(b, x.off+at); err != nil {
		return nil, fmt.Errorf("reading FAT volume at %d: %w", at, err)
	}
	return b, nil
}

func (x *fatFixer) writeAt(b []byte, at int64) error {
	if _, err := x.f.WriteAt(b, x.off+at); err != nil {
		return fmt.Errorf("writing FAT volume at %d: %w", at, err)
	}
	return nil
}

func (x *fatFixer) readBPB() error {
	b, err := x.readAt(512, 0)
	if err != nil {
		return err
	}
	p, err := fatbpb.Parse(b)
	if err != nil {
		return fmt.Errorf("FAT volume at %d: %w", x.off, err)
	}
	if !p.Signed || !p.FAT32 || p.BytesPerSector != 512 || p.FATs != 2 || p.RootCluster == 0 {
		return fmt.Errorf("FAT volume at %d: unexpected boot sector", x.off)
	}
	x.bps, x.spc, x.reserved, x.fatSectors = p.BytesPerSector, p.SectorsPerCluster, p.Reserved, p.FATSectors
	x.rootClus, x.fsinfo, x.backup = p.RootCluster, p.FSInfo, p.Backup
	x.clusters = uint32(p.Clusters())
	x.fat, err = x.readAt(x.fatSectors*x.bps, x.reserved*x.bps)
	return err
}

func (x *fatFixer) next(c uint32) uint32 { return binary.LittleEndian.Uint32(x.fat[4*c:]) & 0x0fffffff }

func (x *fatFixer) setNext(c, v uint32) { binary.LittleEndian.PutUint32(x.fat[4*c:], v) }

func (x *fatFixer) chain(first uint32) ([]uint32, error) {
	var cs []uint32
	for c := first; c >= 2 && c < 0x0ffffff8; c = x.next(c) {
		if c > x.clusters+1 || len(cs) > int(x.clusters) {
			return nil, fmt.Errorf("FAT volume: bad cluster chain from %d at %d", first, c)
		}
		cs = append(cs, c)
	}
	return cs, nil
}

func (x *fatFixer) clusterOffset(c uint32) int64 {
	return (x.reserved+2*x.fatSectors)*x.bps + int64(c-2)*x.spc*x.bps
}

// walk repairs directory dir (whose parent directory starts at parent, 0 for
// the root) and everything below it.
func (x *fatFixer) walk(dir, parent uint32) error {
	cs, err := x.chain(dir)
	if err != nil {
		return err
	}
	csize := x.spc * x.bps
	buf := make([]byte, 0, int64(len(cs))*csize)
	for _, c := range cs {
		b, err := x.readAt(csize, x.clusterOffset(c))
		if err != nil {
			return err
		}
		buf = append(buf, b...)
	}
	subdirs, err := x.fixEntries(buf, dir, parent)
	if err != nil {
		return err
	}
	for i, c := range cs {
		if err := x.writeAt(buf[int64(i)*csize:int64(i+1)*csize], x.clusterOffset(c)); err != nil {
			return err
		}
	}
	self := dir
	if dir == x.rootClus {
		self = 0 // ".." of a root subdirectory names the root as 0
	}
	for _, sd := range subdirs {
		if err := x.walk(sd, self); err != nil {
			return err
		}
	}
	return nil
}

// fixEntries patches one directory's entries in place and returns the
// first clusters of its subdirectories.
func (x *fatFixer) fixEntries(buf []byte, dir, parent uint32) ([]uint32, error) {
	var subdirs []uint32
	names := map[string]bool{}
	lfnStart := -1
	for i := 0; i+32 <= len(buf) && buf[i] != 0; i += 32 {
		e := buf[i : i+32]
		switch {
		case e[0] == 0xe5:
			lfnStart = -1
			continue
		case e[11] == 0x0f:
			if lfnStart < 0 {
				lfnStart = i
			}
			continue
		}
		e[13] = 0 // creation time's hundredths
		fatedit.Stamp(e, x.t)
		if err := x.fixName(buf, i, lfnStart, names); err != nil {
			return nil, err
		}
		lfnStart = -1
		sd, err := x.fixLinks(e, dir, parent)
		if err != nil {
			return nil, err
		}
		if sd != 0 {
			subdirs = append(subdirs, sd)
		}
	}
	return subdirs, nil
}

func entryCluster(e []byte) uint32 {
	return uint32(binary.LittleEndian.Uint16(e[20:]))<<16 | uint32(binary.LittleEndian.Uint16(e[26:]))
}

func setEntryCluster(e []byte, c uint32) {
	binary.LittleEndian.PutUint16(e[20:], uint16(c>>16))
	binary.LittleEndian.PutUint16(e[26:], uint16(c))
}

// fixLinks points ".." of root subdirectories at 0 (go-diskfs writes the
// root's cluster, 2) and frees the cluster go-diskfs gives empty files. It
// returns a subdirectory's first cluster to descend into.
func (x *fatFixer) fixLinks(e []byte, dir, parent uint32) (uint32, error) {
	name := string(e[0:11])
	attr := e[11]
	switch {
	case attr&0x08 != 0: // volume label
		return 0, nil
	case name == ".          ":
		setEntryCluster(e, dir)
		return 0, nil
	case name == "..         ":
		setEntryCluster(e, parent)
		return 0, nil
	case attr&0x10 != 0:
		return entryCluster(e), nil
	}
	if binary.LittleEndian.Uint32(e[28:]) == 0 && entryCluster(e) != 0 {
		cs, err := x.chain(entryCluster(e))
		if err != nil {
			return 0, err
		}
		for _, c := range cs {
			x.setNext(c, 0)
		}
		setEntryCluster(e, 0)
	}
	return 0, nil
}

// fixName gives an entry a valid, unique 8.3 name when go-diskfs wrote a
// broken one (names starting with a dot get a blank base) or a duplicate,
// and updates the checksum in its long-name slots.
func (x *fatFixer) fixName(buf []byte, i, lfnStart int, names map[string]bool) error {
	e := buf[i : i+32]
	short := string(e[0:11])
	if e[11]&0x08 != 0 || strings.HasPrefix(short, ".") {
		return nil
	}
	if e[0] != ' ' && !names[short] {
		names[short] = true
		return nil
	}
	if lfnStart < 0 {
		return fmt.Errorf("FAT volume: entry %q has a bad 8.3 name and no long name", short)
	}
	alias := fatedit.Alias(fatedit.LongName(buf[lfnStart:i], e), names)
	copy(e[0:11], alias[:])
	sum := fatedit.Checksum(alias[:])
	for j := lfnStart; j < i; j += 32 {
		buf[j+13] = sum
	}
	return nil
}

func (x *fatFixer) writeFATs() error {
	for i := int64(0); i < 2; i++ {
		if err := x.writeAt(x.fat, (x.reserved+i*x.fatSectors)*x.bps); err != nil {
			return err
		}
	}
	return nil
}

// patchBootSectors sets hidden sectors (go-diskfs writes 0 inside a
// partition) and the volume ID (0 in its reproducible mode) in the boot
// sector and its backup.
func (x *fatFixer) patchBootSectors(hidden, volumeID uint32) error {
	for _, s := range []int64{0, x.backup} {
		b, err := x.readAt(512, s*x.bps)
		if err != nil {
			return err
		}
		binary.LittleEndian.PutUint32(b[28:], hidden)
		binary.LittleEndian.PutUint32(b[67:], volumeID)
		if err := x.writeAt(b, s*x.bps); err != nil {
			return err
		}
	}
	return nil
}

// writeFSInfo records the free-cluster count and next-free hint go-diskfs
// leaves unset (0xFFFFFFFF).
func (x *fatFixer) writeFSInfo() error {
	free, first := uint32(0), uint32(0xffffffff)
	for c := uint32(2); c < x.clusters+2; c++ {
		if x.next(c) == 0 {
			free++
			if first == 0xffffffff {
				first = c
			}
		}
	}
	for _, s := range []int64{x.fsinfo, x.backup + 1} {
		b, err := x.readAt(512, s*x.bps)
		if err != nil {
			return err
		}
		if string(b[0:4]) != "RRaA" {
			return fmt.Errorf("FAT volume: no FSInfo signature in sector %d", s)
		}
		binary.LittleEndian.PutUint32(b[488:], free)
		binary.LittleEndian.PutUint32(b[492:], first)
		if err := x.writeAt(b, s*x.bps); err != nil {
			return err
		}
	}
	return nil
}

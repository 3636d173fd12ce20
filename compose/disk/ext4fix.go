package disk

import (
	"encoding/binary"
	"fmt"
	"os"
	"time"

	"github.com/usbkit/compose/compose/internal/ext4fmt"
)

// fixExt4 makes an ext4 volume go-diskfs v1.9.4 created reproducible: it
// stamps time.Now() into every superblock copy and inode and draws a random
// directory hash seed. The volume must have no metadata_csum (Build turns it
// off). go-diskfs still writes, and on reading insists on, an inode checksum
// seeded from s_checksum_seed, so patched inodes get that checksum again.
func fixExt4(f *os.File, off int64, t time.Time, hashSeed []byte) error {
	g, sb, err := readExt4Geom(f, off)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if le.Uint32(sb[0x64:])&0x400 != 0 {
		return fmt.Errorf("ext4 volume at %d: metadata_csum is on; cannot patch", off)
	}
	ts := uint32(t.Unix())
	if err := g.patchSuperblocks(f, off, ts, hashSeed, le.Uint32(sb[0x64:])&1 != 0); err != nil {
		return err
	}
	return g.patchInodes(f, off, ts)
}

// ext4Geom is the volume's layout, with what this package does to it.
type ext4Geom struct{ ext4fmt.Geom }

func (g ext4Geom) patchSuperblocks(f *os.File, off int64, ts uint32, hashSeed []byte, sparse bool) error {
	le := binary.LittleEndian
	for grp := int64(0); grp < g.Groups; grp++ {
		if !ext4fmt.HasSuperBackup(grp, sparse) {
			continue
		}
		at := off + (grp*g.PerGroup+g.FirstData)*g.BlockSize
		if grp == 0 {
			at = off + 1024
		}
		sb := make([]byte, 1024)
		if _, err := f.ReadAt(sb, at); err != nil {
			return fmt.Errorf("reading ext4 superblock copy %d: %w", grp, err)
		}
		if le.Uint16(sb[0x38:]) != 0xef53 {
			continue // go-diskfs wrote no copy here
		}
		le.PutUint32(sb[0x2c:], 0) // last mount: never
		le.PutUint32(sb[0x30:], ts)
		le.PutUint32(sb[0x40:], ts)
		le.PutUint32(sb[0x108:], ts)
		copy(sb[0x274:0x278], []byte{0, 0, 0, 0})
		copy(sb[0xec:0xfc], hashSeed[:16])
		if _, err := f.WriteAt(sb, at); err != nil {
			return fmt.Errorf("writing ext4 superblock copy %d: %w", grp, err)
		}
	}
	return nil
}

// patchInodes stamps every in-use inode that carries a time.
func (g ext4Geom) patchInodes(f *os.File, off int64, ts uint32) error {
	le := binary.LittleEndian
	gdt := make([]byte, g.Groups*g.DescSize)
	if _, err := f.ReadAt(gdt, off+(g.FirstData+1)*g.BlockSize); err != nil {
		return fmt.Errorf("reading ext4 group descriptors: %w", err)
	}
	for grp := int64(0); grp < g.Groups; grp++ {
		d := gdt[grp*g.DescSize:]
		bitmap, table := int64(le.Uint32(d[4:])), int64(le.Uint32(d[8:]))
		if g.Is64 && g.DescSize >= 64 {
			bitmap |= int64(le.Uint32(d[0x24:])) << 32
			table |= int64(le.Uint32(d[0x28:])) << 32
		}
		if err := g.patchGroup(f, off, grp, bitmap, table, ts); err != nil {
			return fmt.Errorf("ext4 group %d: %w", grp, err)
		}
	}
	return nil
}

func (g ext4Geom) patchGroup(f *os.File, off, grpIndex, bitmap, table int64, ts uint32) error {
	le := binary.LittleEndian
	bm := make([]byte, g.BlockSize)
	if _, err := f.ReadAt(bm, off+bitmap*g.BlockSize); err != nil {
		return err
	}
	ino := make([]byte, g.InodeSize)
	for i := int64(0); i < g.InodesPerGroup; i++ {
		if bm[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		at := off + table*g.BlockSize + i*g.InodeSize
		if _, err := f.ReadAt(ino, at); err != nil {
			return err
		}
		if le.Uint32(ino[0x08:])|le.Uint32(ino[0x0c:])|le.Uint32(ino[0x10:]) == 0 {
			continue // reserved inode go-diskfs left blank
		}
		for _, o := range []int{0x08, 0x0c, 0x10} {
			le.PutUint32(ino[o:], ts)
		}
		le.PutUint16(ino[0x7c:], 0)
		extra := g.InodeSize > 128 && 128+int64(le.Uint16(ino[0x80:])) >= 0x98
		if extra {
			le.PutUint16(ino[0x82:], 0)
			for _, o := range []int{0x84, 0x88, 0x8c, 0x94} {
				le.PutUint32(ino[o:], 0) // extra epoch bits and nanoseconds
			}
			le.PutUint32(ino[0x90:], ts) // creation time
		}
		sum := ext4fmt.InodeChecksum(g.CsumSeed, uint32(i+1+grpIndex*g.InodesPerGroup), ino)
		le.PutUint16(ino[0x7c:], uint16(sum))
		if extra {
			le.PutUint16(ino[0x82:], uint16(sum>>16))
		}
		if _, err := f.WriteAt(ino, at); err != nil {
			return err
		}
	}
	return nil
}

package ext4fmt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Geom is an ext4 volume's layout as its superblock states it.
type Geom struct {
	BlockSize      int64
	FirstData      int64 // the first data block: 1 with 1 KiB blocks, else 0
	PerGroup       int64 // blocks per group
	InodesPerGroup int64
	InodeSize      int64
	DescSize       int64 // a group descriptor's size
	Blocks         int64
	Groups         int64
	Inodes         int64 // in all groups
	FirstIno       int64 // the first inode not reserved
	CsumSeed       uint32
	Is64           bool
}

// ErrGeometry is matched by ReadGeom's error for a superblock that is no
// ext4 one or states a layout no ext4 volume has.
var ErrGeometry = errors.New("not a plausible ext4 superblock")

// SuperblockOffset is where the superblock starts in the volume.
const SuperblockOffset = 1024

// ReadGeom reads the superblock of the ext4 volume at byte offset off of r
// and returns the layout it states and its 1024 bytes. Every count is
// checked against the others (a stick is hostile input), so that no
// caller sizes a read or a loop by a field out of range.
func ReadGeom(r io.ReaderAt, off int64) (Geom, []byte, error) {
	le := binary.LittleEndian
	sb := make([]byte, 1024)
	if _, err := r.ReadAt(sb, off+SuperblockOffset); err != nil {
		return Geom{}, nil, fmt.Errorf("reading the ext4 superblock: %w", err)
	}
	if le.Uint16(sb[0x38:]) != 0xef53 {
		return Geom{}, nil, fmt.Errorf("%w: no ext4 superblock magic at offset %d", ErrGeometry, off)
	}
	lb := le.Uint32(sb[0x18:])
	if lb > 2 {
		return Geom{}, nil, fmt.Errorf("%w: block size 1024<<%d", ErrGeometry, lb)
	}
	g := Geom{
		BlockSize:      1024 << lb,
		FirstData:      int64(le.Uint32(sb[0x14:])),
		PerGroup:       int64(le.Uint32(sb[0x20:])),
		InodesPerGroup: int64(le.Uint32(sb[0x28:])),
		InodeSize:      int64(le.Uint16(sb[0x58:])),
		Inodes:         int64(le.Uint32(sb[0:])),
		FirstIno:       int64(le.Uint32(sb[0x54:])),
		Blocks:         int64(le.Uint32(sb[0x04:])),
		DescSize:       32,
		CsumSeed:       le.Uint32(sb[0x270:]),
		Is64:           le.Uint32(sb[0x60:])&0x80 != 0,
	}
	if g.Is64 {
		g.DescSize = int64(le.Uint16(sb[0xfe:]))
		g.Blocks |= int64(le.Uint32(sb[0x150:])) << 32
	}
	if err := g.check(); err != nil {
		return Geom{}, nil, err
	}
	return g, sb, nil
}

func (g *Geom) check() error {
	bs := g.BlockSize
	if g.PerGroup <= 0 || g.PerGroup > 8*bs || g.InodesPerGroup <= 0 || g.InodesPerGroup > 8*bs ||
		g.InodeSize < 128 || g.InodeSize > bs || g.InodeSize&(g.InodeSize-1) != 0 ||
		g.DescSize < 32 || g.DescSize > bs || g.DescSize&(g.DescSize-1) != 0 ||
		g.Blocks <= g.FirstData || g.FirstData > 1 || (g.FirstData == 1) != (bs == 1024) || g.FirstIno <= 8 {
		return fmt.Errorf("%w: implausible geometry", ErrGeometry)
	}
	g.Groups = (g.Blocks - g.FirstData + g.PerGroup - 1) / g.PerGroup
	if g.Inodes != g.Groups*g.InodesPerGroup {
		return fmt.Errorf("%w: %d inodes for %d groups of %d", ErrGeometry, g.Inodes, g.Groups, g.InodesPerGroup)
	}
	return nil
}

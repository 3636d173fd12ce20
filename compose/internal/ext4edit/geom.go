package ext4edit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/usbkit/compose/compose/internal/ext4fmt"
)

// Device is what a volume lives on: an image file or a block device.
// Offsets passed to it are absolute (the package adds the partition
// offset). Sync is called when the device has it.
type Device interface {
	io.ReaderAt
	io.WriterAt
}

type syncer interface{ Sync() error }

var (
	// ErrNoJournal: the volume has no journal (an older compose made it);
	// only a rewrite can change it.
	ErrNoJournal = errors.New("the ext4 volume has no journal")
	// ErrNoSpace is returned (wrapped, with the numbers) when the new
	// contents, or the transaction, do not fit.
	ErrNoSpace = errors.New("not enough free space on the ext4 volume")
	// ErrUnsupported is returned (wrapped, with the reason) for a volume
	// using something this package does not handle.
	ErrUnsupported = errors.New("ext4 volume layout not supported for in-place updates")
)

var le = binary.LittleEndian

// Superblock fields (byte offsets in the 1024-byte superblock).
const (
	sbOffset       = ext4fmt.SuperblockOffset
	sbFreeBlocks   = 0x0c
	sbFreeInodes   = 0x10
	sbPerGroup     = 0x20
	sbMagic        = 0x38
	sbCompat       = 0x5c
	sbIncompat     = 0x60
	sbROCompat     = 0x64
	sbJournalInum  = 0xe0
	sbJnlBackup    = 0xfd
	sbDescSize     = 0xfe
	sbJnlBlocks    = 0x10c
	sbFreeBlocksHi = 0x158

	compatHasJournal = 0x4
	compatHandled    = compatHasJournal | 0x8 /* ext_attr */ | 0x20 /* dir_index: only linear dirs are read */
	incompatRecover  = 0x4
	incompatHandled  = 0x2 /* filetype */ | incompatRecover | 0x40 /* extent */ | 0x80 /* 64bit */ | 0x200               /* flex_bg */
	roHandled        = 0x1 /* sparse_super */ | 0x2 /* large_file */ | 0x8 /* huge_file */ | 0x20 /* dir_nlink */ | 0x40 /* extra_isize */

	journalIno = 8
	rootIno    = 2
)

// geom is a volume's layout, read from its superblock, and where it lives.
type geom struct {
	ext4fmt.Geom
	dev                Device
	off                int64 // partition start on dev
	sbBlock, sbInBlock int64 // the block holding the superblock, and where in it
}

func readGeom(dev Device, off int64) (*geom, []byte, error) {
	x, sb, err := ext4fmt.ReadGeom(dev, off)
	if errors.Is(err, ext4fmt.ErrGeometry) {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := checkFeatures(sb); err != nil {
		return nil, nil, err
	}
	if f := le.Uint32(sb[sbIncompat:]); f&0x2 == 0 || f&0x40 == 0 {
		return nil, nil, fmt.Errorf("%w: the volume lacks the filetype or extent feature", ErrUnsupported)
	}
	g := &geom{Geom: x, dev: dev, off: off}
	g.sbBlock, g.sbInBlock = sbOffset/g.BlockSize, sbOffset%g.BlockSize
	return g, sb, nil
}

func checkFeatures(sb []byte) error {
	for _, f := range []struct {
		name    string
		at      int
		handled uint32
	}{{"compat", sbCompat, compatHandled}, {"incompat", sbIncompat, incompatHandled}, {"ro_compat", sbROCompat, roHandled}} {
		if extra := le.Uint32(sb[f.at:]) &^ f.handled; extra != 0 {
			return fmt.Errorf("%w: %s features %#x (%s)", ErrUnsupported, f.name, extra, featureNames(f.at, extra))
		}
	}
	return nil
}

// featureNames names the features a refusal is about, so the error says
// what the volume uses.
func featureNames(at int, bits uint32) string {
	names := map[int]map[uint32]string{
		sbCompat:   {0x1: "dir_prealloc", 0x2: "imagic_inodes", 0x10: "resize_inode", 0x40: "lazy_bg", 0x200: "sparse_super2", 0x400: "fast_commit", 0x800: "stable_inodes", 0x1000: "orphan_file"},
		sbIncompat: {0x1: "compression", 0x8: "journal_dev", 0x10: "meta_bg", 0x100: "mmp", 0x400: "ea_inode", 0x1000: "dirdata", 0x2000: "metadata_csum_seed", 0x4000: "large_dir", 0x8000: "inline_data", 0x10000: "encrypt", 0x20000: "casefold"},
		sbROCompat: {0x4: "btree_dir", 0x10: "gdt_csum/uninit_bg", 0x80: "has_snapshot", 0x100: "quota", 0x200: "bigalloc", 0x400: "metadata_csum", 0x800: "replica", 0x1000: "read-only", 0x2000: "project", 0x4000: "shared_blocks", 0x8000: "verity", 0x10000: "orphan_present"},
	}
	s := ""
	for b := uint32(1); b != 0; b <<= 1 {
		if bits&b == 0 {
			continue
		}
		n := names[at][b]
		if n == "" {
			n = fmt.Sprintf("unknown %#x", b)
		}
		if s != "" {
			s += ", "
		}
		s += n
	}
	return s
}

func (g *geom) readBlock(n int64) ([]byte, error) {
	if n < 0 || n >= g.Blocks {
		return nil, fmt.Errorf("block %d is outside the volume of %d blocks", n, g.Blocks)
	}
	b := make([]byte, g.BlockSize)
	if _, err := g.dev.ReadAt(b, g.off+n*g.BlockSize); err != nil {
		return nil, fmt.Errorf("reading block %d: %w", n, err)
	}
	return b, nil
}

func (g *geom) sync() error {
	if s, ok := g.dev.(syncer); ok {
		if err := s.Sync(); err != nil {
			return fmt.Errorf("syncing: %w", err)
		}
	}
	return nil
}

func (g *geom) gdtBlocks() int64 { return (g.Groups*g.DescSize + g.BlockSize - 1) / g.BlockSize }

// desc is one group descriptor's fields this package uses.
type desc struct {
	blockBitmap, inodeBitmap, inodeTable int64
}

func (g *geom) parseDesc(d []byte) desc {
	x := desc{int64(le.Uint32(d[0:])), int64(le.Uint32(d[4:])), int64(le.Uint32(d[8:]))}
	if g.Is64 && g.DescSize >= 64 {
		x.blockBitmap |= int64(le.Uint32(d[0x20:])) << 32
		x.inodeBitmap |= int64(le.Uint32(d[0x24:])) << 32
		x.inodeTable |= int64(le.Uint32(d[0x28:])) << 32
	}
	return x
}

// addFree adds n (negative to take) to a descriptor's free block or inode
// count (field 0x0c or 0x0e, high half at +0x20).
func (g *geom) addFree(d []byte, field int, n int64) {
	v := int64(le.Uint16(d[field:]))
	if g.Is64 && g.DescSize >= 64 {
		v |= int64(le.Uint16(d[field+0x20:])) << 16
	}
	v += n
	le.PutUint16(d[field:], uint16(v))
	if g.Is64 && g.DescSize >= 64 {
		le.PutUint16(d[field+0x20:], uint16(v>>16))
	}
}

// addSBFree adds n to the superblock's free block count.
func addSBFree(sb []byte, blocks, inodes int64) {
	v := int64(le.Uint32(sb[sbFreeBlocks:])) | int64(le.Uint32(sb[sbFreeBlocksHi:]))<<32
	v += blocks
	le.PutUint32(sb[sbFreeBlocks:], uint32(v))
	le.PutUint32(sb[sbFreeBlocksHi:], uint32(v>>32))
	le.PutUint32(sb[sbFreeInodes:], uint32(int64(le.Uint32(sb[sbFreeInodes:]))+inodes))
}

// sealInode sets the inode checksum go-diskfs writes and insists on even
// without metadata_csum: CRC32C seeded from s_checksum_seed over the inode
// number, its generation and the inode with the checksum fields zero.
func (g *geom) sealInode(ino []byte, number int64) {
	le.PutUint16(ino[0x7c:], 0)
	hi := g.InodeSize > 128 // go-diskfs checks both halves whatever i_extra_isize says
	if hi {
		le.PutUint16(ino[0x82:], 0)
	}
	c := ext4fmt.InodeChecksum(g.CsumSeed, uint32(number), ino)
	le.PutUint16(ino[0x7c:], uint16(c))
	if hi {
		le.PutUint16(ino[0x82:], uint16(c>>16))
	}
}

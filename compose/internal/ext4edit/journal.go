package ext4edit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/usbkit/compose/compose/internal/ext4fmt"
)

var be = binary.BigEndian

// jbd2 on-disk constants (big-endian structures).
const (
	jMagic      = 0xC03B3998
	jDescriptor = 1
	jCommit     = 2
	jSuperV2    = 4
	jRevoke     = 5

	jFlagEscape   = 1
	jFlagSameUUID = 2
	jFlagLastTag  = 8

	// Journal superblock fields.
	jsBlockSize = 0x0c
	jsMaxLen    = 0x10
	jsFirst     = 0x14
	jsSequence  = 0x18
	jsStart     = 0x1c
	jsCompat    = 0x24
	jsIncompat  = 0x28
	jsROCompat  = 0x2c
	jsUUID      = 0x30
	jsNrUsers   = 0x40
	jsLen       = 1024 // the part of the superblock block that matters

	minJournal = 1024
	maxExtent  = 32768
)

// AddJournal adds a jbd2 journal of blocks fs blocks (at least 1024) to the
// ext4 volume at byte offset off of dev: inode 8 holding one contiguous run
// of free blocks, has_journal and s_journal_inum in every superblock copy,
// and an empty v2 journal superblock (no checksum features, s_start 0)
// with uuid. t stamps the inode. The result is a function of the volume,
// blocks, uuid and t only. Meant for a fresh volume: it writes in no
// crash-safe order.
func AddJournal(dev Device, off int64, blocks int64, uuid [16]byte, t time.Time) error {
	g, sb, err := readGeom(dev, off)
	if err != nil {
		return err
	}
	if le.Uint32(sb[sbCompat:])&compatHasJournal != 0 || le.Uint32(sb[sbJournalInum:]) != 0 {
		return fmt.Errorf("the ext4 volume at %d already has a journal", off)
	}
	if blocks < minJournal || blocks > 4*maxExtent {
		return fmt.Errorf("a journal of %d blocks: want %d to %d", blocks, minJournal, 4*maxExtent)
	}
	m, err := g.loadMeta()
	if err != nil {
		return err
	}
	start := m.findRun(blocks)
	if start < 0 {
		return fmt.Errorf("%w: no run of %d free blocks for the journal", ErrNoSpace, blocks)
	}
	m.take(start, blocks)
	ino, err := m.journalInode(blocks, start, t)
	if err != nil {
		return err
	}
	if _, err := dev.WriteAt(g.newJournalSuper(blocks, uuid), off+start*g.BlockSize); err != nil {
		return fmt.Errorf("writing the journal superblock: %w", err)
	}
	if err := m.putInode(journalIno, ino); err != nil {
		return err
	}
	if err := m.reserveInode(journalIno); err != nil {
		return err
	}
	for _, n := range m.order {
		if _, err := dev.WriteAt(m.cache[n], off+n*g.BlockSize); err != nil {
			return fmt.Errorf("writing block %d: %w", n, err)
		}
	}
	if err := g.patchSuperCopies(func(s []byte) {
		le.PutUint32(s[sbCompat:], le.Uint32(s[sbCompat:])|compatHasJournal)
		le.PutUint32(s[sbJournalInum:], journalIno)
		copy(s[sbJnlBlocks:], ino[0x28:0x28+60])
		le.PutUint32(s[sbJnlBlocks+60:], le.Uint32(ino[0x6c:]))
		le.PutUint32(s[sbJnlBlocks+64:], le.Uint32(ino[0x04:]))
		s[sbJnlBackup] = 1 // s_jnl_blocks holds the inode's i_block
	}); err != nil {
		return err
	}
	return g.sync()
}

// journalInode builds inode 8 for a journal of n blocks from start.
func (m *meta) journalInode(n, start int64, t time.Time) ([]byte, error) {
	ino, err := m.inode(journalIno)
	if err != nil {
		return nil, err
	}
	if le.Uint16(ino) != 0 {
		return nil, fmt.Errorf("inode %d is already in use", journalIno)
	}
	m.g.fillInode(ino, 0o100600, n*m.g.BlockSize, n, t)
	putExtents(ino[0x28:0x28+60], splitRun(0, start, n))
	return ino, nil
}

// fillInode fills a fresh inode: mode, size, 512-byte sectors for
// blocks fs blocks, one link, times t, an empty extent root.
func (g *geom) fillInode(ino []byte, mode uint16, size, blocks int64, t time.Time) {
	clear(ino)
	le.PutUint16(ino[0x00:], mode)
	le.PutUint32(ino[0x04:], uint32(size))
	le.PutUint32(ino[0x6c:], uint32(size>>32))
	ts := uint32(t.Unix())
	for _, o := range []int{0x08, 0x0c, 0x10} {
		le.PutUint32(ino[o:], ts)
	}
	le.PutUint16(ino[0x1a:], 1)
	sectors := blocks * (g.BlockSize / 512)
	le.PutUint32(ino[0x1c:], uint32(sectors))
	le.PutUint16(ino[0x74:], uint16(sectors>>32))
	le.PutUint32(ino[0x20:], 0x80000) // EXT4_EXTENTS_FL
	putExtents(ino[0x28:0x28+60], nil)
	if g.InodeSize > 128 {
		le.PutUint16(ino[0x80:], 32)
		le.PutUint32(ino[0x90:], ts) // creation time
	}
}

// newJournalSuper is an empty v2 journal superblock block.
func (g *geom) newJournalSuper(blocks int64, uuid [16]byte) []byte {
	b := make([]byte, g.BlockSize)
	be.PutUint32(b[0:], jMagic)
	be.PutUint32(b[4:], jSuperV2)
	be.PutUint32(b[jsBlockSize:], uint32(g.BlockSize))
	be.PutUint32(b[jsMaxLen:], uint32(blocks))
	be.PutUint32(b[jsFirst:], 1)
	// A sequence drawn from the UUID: stale blocks of an older file
	// system's journal at the same place cannot pass for the next
	// transaction.
	sum := sha256.Sum256(uuid[:])
	be.PutUint32(b[jsSequence:], be.Uint32(sum[:])|1)
	copy(b[jsUUID:], uuid[:])
	be.PutUint32(b[jsNrUsers:], 1)
	return b
}

// superCopies lists the byte offsets of every superblock copy.
func (g *geom) superCopies(sb []byte) []int64 {
	sparse := le.Uint32(sb[sbROCompat:])&1 != 0
	out := []int64{g.off + sbOffset}
	for grp := int64(1); grp < g.Groups; grp++ {
		if ext4fmt.HasSuperBackup(grp, sparse) {
			out = append(out, g.off+(grp*g.PerGroup+g.FirstData)*g.BlockSize)
		}
	}
	return out
}

// patchSuperCopies applies f to every superblock copy that is there.
func (g *geom) patchSuperCopies(f func([]byte)) error {
	sb := make([]byte, 1024)
	if _, err := g.dev.ReadAt(sb, g.off+sbOffset); err != nil {
		return fmt.Errorf("reading the superblock: %w", err)
	}
	for _, at := range g.superCopies(sb) {
		s := make([]byte, 1024)
		if _, err := g.dev.ReadAt(s, at); err != nil {
			return fmt.Errorf("reading the superblock copy at %d: %w", at, err)
		}
		if le.Uint16(s[sbMagic:]) != 0xef53 {
			continue
		}
		f(s)
		if _, err := g.dev.WriteAt(s, at); err != nil {
			return fmt.Errorf("writing the superblock copy at %d: %w", at, err)
		}
	}
	return nil
}

// extent maps n blocks from file block logical to fs block start.
type extent struct{ logical, start, n int64 }

// splitRun cuts a run of n blocks into extents of at most 32768 blocks.
func splitRun(logical, start, n int64) []extent {
	var out []extent
	for n > 0 {
		k := min(n, maxExtent)
		out = append(out, extent{logical, start, k})
		logical, start, n = logical+k, start+k, n-k
	}
	return out
}

// putExtents writes a depth-0 extent node (header and entries) into b.
func putExtents(b []byte, exts []extent) {
	clear(b)
	le.PutUint16(b[0:], 0xF30A)
	le.PutUint16(b[2:], uint16(len(exts)))
	le.PutUint16(b[4:], uint16((len(b)-12)/12))
	for i, e := range exts {
		p := b[12+12*i:]
		le.PutUint32(p[0:], uint32(e.logical))
		le.PutUint16(p[4:], uint16(e.n))
		le.PutUint16(p[6:], uint16(e.start>>32))
		le.PutUint32(p[8:], uint32(e.start))
	}
}

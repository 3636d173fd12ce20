package ext4edit

import (
	"bytes"
	"fmt"
)

// meta is a block cache over a volume's metadata: the superblock's block,
// the group descriptors, bitmaps, inode table and directory blocks. Changes
// are made to the cached copies and recorded in order, so that Update can
// journal exactly the blocks it changed.
type meta struct {
	g     *geom
	cache map[int64][]byte
	orig  map[int64][]byte // bitmaps as on disk when first read
	dirty map[int64]bool
	order []int64
}

func (g *geom) loadMeta() (*meta, error) {
	m := &meta{g: g, cache: map[int64][]byte{}, orig: map[int64][]byte{}, dirty: map[int64]bool{}}
	if _, err := m.get(g.sbBlock); err != nil {
		return nil, err
	}
	for i := int64(0); i < g.gdtBlocks(); i++ {
		if _, err := m.get(g.FirstData + 1 + i); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// get returns the cached copy of block n, reading it on first use.
func (m *meta) get(n int64) ([]byte, error) {
	if b, ok := m.cache[n]; ok {
		return b, nil
	}
	b, err := m.g.readBlock(n)
	if err != nil {
		return nil, err
	}
	m.cache[n] = b
	return b, nil
}

// mark records block n as changed.
func (m *meta) mark(n int64) {
	if !m.dirty[n] {
		m.dirty[n] = true
		m.order = append(m.order, n)
	}
}

// sb is the superblock inside its cached block; callers mark sbBlock.
func (m *meta) sb() []byte {
	return m.cache[m.g.sbBlock][m.g.sbInBlock : m.g.sbInBlock+1024]
}

func (m *meta) markSB() { m.mark(m.g.sbBlock) }

// descBlock is the GDT block holding group grp's descriptor and its offset.
func (m *meta) descBlock(grp int64) (int64, int64) {
	at := grp * m.g.DescSize
	return m.g.FirstData + 1 + at/m.g.BlockSize, at % m.g.BlockSize
}

func (m *meta) desc(grp int64) ([]byte, desc) {
	n, at := m.descBlock(grp)
	d := m.cache[n][at : at+m.g.DescSize]
	return d, m.g.parseDesc(d)
}

// bitmap returns a group's block (inodes false) or inode bitmap block, its
// number and its content on disk when first read.
func (m *meta) bitmap(grp int64, inodes bool) ([]byte, int64, []byte, error) {
	_, d := m.desc(grp)
	n := d.blockBitmap
	if inodes {
		n = d.inodeBitmap
	}
	if n <= m.g.FirstData+m.g.gdtBlocks() || n >= m.g.Blocks {
		return nil, 0, nil, fmt.Errorf("group %d: bitmap at block %d is outside the volume", grp, n)
	}
	b, err := m.get(n)
	if err != nil {
		return nil, 0, nil, err
	}
	if m.orig[n] == nil {
		m.orig[n] = bytes.Clone(b)
	}
	return b, n, m.orig[n], nil
}

func bit(b []byte, i int64) bool { return b[i/8]&(1<<(i%8)) != 0 }

// blockFree says whether block n is free now and was free on disk.
func (m *meta) blockFree(n int64) (bool, error) {
	if n < m.g.FirstData || n >= m.g.Blocks {
		return false, nil
	}
	grp, i := (n-m.g.FirstData)/m.g.PerGroup, (n-m.g.FirstData)%m.g.PerGroup
	b, _, o, err := m.bitmap(grp, false)
	if err != nil {
		return false, err
	}
	return !bit(b, i) && !bit(o, i), nil
}

// freeRuns calls f with each maximal run of blocks free now and on disk,
// in block order, until f returns false.
func (m *meta) freeRuns(f func(start, n int64) bool) error {
	start, l := int64(-1), int64(0)
	for grp := int64(0); grp < m.g.Groups; grp++ {
		b, _, o, err := m.bitmap(grp, false)
		if err != nil {
			return err
		}
		base := m.g.FirstData + grp*m.g.PerGroup
		count := min(m.g.PerGroup, m.g.Blocks-base)
		for i := int64(0); i < count; i++ {
			if i%8 == 0 && i+8 <= count && b[i/8]|o[i/8] == 0xFF {
				if l > 0 && !f(start, l) {
					return nil
				}
				l, i = 0, i+7
				continue
			}
			if bit(b, i) || bit(o, i) {
				if l > 0 && !f(start, l) {
					return nil
				}
				l = 0
				continue
			}
			if l == 0 {
				start = base + i
			}
			l++
		}
	}
	if l > 0 {
		f(start, l)
	}
	return nil
}

// findRun returns the first block of the first run of n blocks free now
// and on disk, or -1.
func (m *meta) findRun(n int64) int64 {
	found := int64(-1)
	_ = m.freeRuns(func(s, l int64) bool {
		if l >= n {
			found = s
			return false
		}
		return true
	})
	return found
}

// alloc takes n blocks free now and on disk: one run if there is one,
// else the first runs in block order. It returns them as runs.
func (m *meta) alloc(n int64) ([]extent, error) {
	if n == 0 {
		return nil, nil
	}
	var out []extent
	if s := m.findRun(n); s >= 0 {
		out = []extent{{0, s, n}}
	} else {
		left := n
		err := m.freeRuns(func(s, l int64) bool {
			k := min(l, left)
			out = append(out, extent{n - left, s, k})
			left -= k
			return left > 0
		})
		if err != nil {
			return nil, err
		}
		if left > 0 {
			return nil, fmt.Errorf("%w: %d blocks wanted, %d free", ErrNoSpace, n, n-left)
		}
	}
	for _, e := range out {
		m.take(e.start, e.n)
	}
	return out, nil
}

// take marks n blocks from start in use, with the free counts.
func (m *meta) take(start, n int64) { m.setBlocks(start, n, true) }

// release frees n blocks from start, with the free counts.
func (m *meta) release(start, n int64) { m.setBlocks(start, n, false) }

func (m *meta) setBlocks(start, n int64, used bool) {
	for b := start; b < start+n; {
		grp, i := (b-m.g.FirstData)/m.g.PerGroup, (b-m.g.FirstData)%m.g.PerGroup
		end := min(start+n, m.g.FirstData+(grp+1)*m.g.PerGroup) // this group's part
		bm, bn, _, err := m.bitmap(grp, false)
		if err != nil {
			return // callers pass blocks they checked
		}
		var changed int64
		for k := i; k < i+end-b; k++ {
			if bit(bm, k) != used {
				bm[k/8] ^= 1 << (k % 8)
				changed++
			}
		}
		if changed > 0 {
			if used {
				changed = -changed
			}
			m.counted(grp, bn, false, changed)
		}
		b = end
	}
}

// counted adds delta to the free blocks (inodes false) or free inodes of
// group grp's descriptor and of the superblock, and marks them and the
// changed bitmap block bn for the transaction.
func (m *meta) counted(grp, bn int64, inodes bool, delta int64) {
	field, blocks, inos := 0x0c, delta, int64(0)
	if inodes {
		field, blocks, inos = 0x0e, 0, delta
	}
	m.mark(bn)
	d, _ := m.desc(grp)
	m.g.addFree(d, field, delta)
	m.mark(m.descBlockNo(grp))
	addSBFree(m.sb(), blocks, inos)
	m.markSB()
}

func (m *meta) descBlockNo(grp int64) int64 { n, _ := m.descBlock(grp); return n }

// inodeAt is where inode number n lives: its inode table block and the
// byte offset in that block.
func (m *meta) inodeAt(n int64) (int64, int64, error) {
	if n < 1 || n > m.g.Inodes {
		return 0, 0, fmt.Errorf("inode %d is outside 1..%d", n, m.g.Inodes)
	}
	grp, idx := (n-1)/m.g.InodesPerGroup, (n-1)%m.g.InodesPerGroup
	_, d := m.desc(grp)
	byteOff := idx * m.g.InodeSize
	blk := d.inodeTable + byteOff/m.g.BlockSize
	if blk <= m.g.FirstData || blk >= m.g.Blocks {
		return 0, 0, fmt.Errorf("inode %d: inode table block %d is outside the volume", n, blk)
	}
	return blk, byteOff % m.g.BlockSize, nil
}

// inode returns a copy of inode n.
func (m *meta) inode(n int64) ([]byte, error) {
	blk, at, err := m.inodeAt(n)
	if err != nil {
		return nil, err
	}
	b, err := m.get(blk)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b[at : at+m.g.InodeSize]), nil
}

// putInode seals ino with its checksum and stores it as inode n.
func (m *meta) putInode(n int64, ino []byte) error {
	blk, at, err := m.inodeAt(n)
	if err != nil {
		return err
	}
	b, err := m.get(blk)
	if err != nil {
		return err
	}
	m.g.sealInode(ino, n)
	copy(b[at:], ino)
	m.mark(blk)
	return nil
}

// takeInode allocates the first inode free now and on disk.
func (m *meta) takeInode() (int64, error) {
	for grp := int64(0); grp < m.g.Groups; grp++ {
		bm, bn, o, err := m.bitmap(grp, true)
		if err != nil {
			return 0, err
		}
		for i := int64(0); i < m.g.InodesPerGroup; i++ {
			n := grp*m.g.InodesPerGroup + i + 1
			if n < m.g.FirstIno || bit(bm, i) || bit(o, i) {
				continue
			}
			bm[i/8] |= 1 << (i % 8)
			m.counted(grp, bn, true, -1)
			return n, nil
		}
	}
	return 0, fmt.Errorf("%w: no free inode", ErrNoSpace)
}

// releaseInode frees inode n in its bitmap and the counts.
func (m *meta) releaseInode(n int64) error {
	grp, i := (n-1)/m.g.InodesPerGroup, (n-1)%m.g.InodesPerGroup
	bm, bn, _, err := m.bitmap(grp, true)
	if err != nil {
		return err
	}
	if !bit(bm, i) {
		return fmt.Errorf("inode %d is already free in its bitmap", n)
	}
	bm[i/8] &^= 1 << (i % 8)
	m.counted(grp, bn, true, 1)
	return nil
}

// reserveInode marks inode n in use if its bitmap does not already (mkfs
// marks the reserved inodes; a volume made otherwise may not).
func (m *meta) reserveInode(n int64) error {
	grp, i := (n-1)/m.g.InodesPerGroup, (n-1)%m.g.InodesPerGroup
	bm, bn, _, err := m.bitmap(grp, true)
	if err != nil || bit(bm, i) {
		return err
	}
	bm[i/8] |= 1 << (i % 8)
	m.counted(grp, bn, true, -1)
	return nil
}

package ext4edit

import (
	"fmt"
	"sort"
)

const (
	flagExtents = 0x80000
	flagIndex   = 0x1000 // hashed (htree) directory
	extMagic    = 0xF30A
)

// fileExtent maps file blocks to volume blocks; uninit reads as zeros.
type fileExtent struct {
	extent
	uninit bool
}

// extents returns an inode's extents sorted by file block and the tree
// blocks (index and leaf) holding them.
func (m *meta) extents(ino []byte) ([]fileExtent, []int64, error) {
	if le.Uint32(ino[0x20:])&flagExtents == 0 {
		return m.blockMap(ino)
	}
	var exts []fileExtent
	var tree []int64
	if err := m.walkNode(ino[0x28:0x28+60], -1, &exts, &tree); err != nil {
		return nil, nil, err
	}
	sort.Slice(exts, func(i, j int) bool { return exts[i].logical < exts[j].logical })
	for i := 1; i < len(exts); i++ {
		if exts[i].logical < exts[i-1].logical+exts[i-1].n {
			return nil, nil, fmt.Errorf("extents overlap at file block %d", exts[i].logical)
		}
	}
	return exts, tree, nil
}

// walkNode reads one extent tree node; want is the depth its parent
// expects (-1 for the root).
func (m *meta) walkNode(b []byte, want int, exts *[]fileExtent, tree *[]int64) error {
	if len(b) < 12 || le.Uint16(b[0:]) != extMagic {
		return fmt.Errorf("bad extent header")
	}
	n, depth := int(le.Uint16(b[2:])), int(le.Uint16(b[6:]))
	if 12+12*n > len(b) || int(le.Uint16(b[4:])) < n || depth > 5 || (want >= 0 && depth != want) {
		return fmt.Errorf("bad extent node (%d entries, depth %d)", n, depth)
	}
	for i := 0; i < n; i++ {
		p := b[12+12*i:]
		if depth == 0 {
			l := int64(le.Uint16(p[4:]))
			e := fileExtent{extent: extent{int64(le.Uint32(p[0:])), int64(le.Uint16(p[6:]))<<32 | int64(le.Uint32(p[8:])), l}}
			if l > maxExtent {
				e.n, e.uninit = l-maxExtent, true
			}
			if e.start < m.g.FirstData || e.start+e.n > m.g.Blocks {
				return fmt.Errorf("extent at block %d+%d is outside the volume", e.start, e.n)
			}
			*exts = append(*exts, e)
			continue
		}
		child := int64(le.Uint32(p[4:])) | int64(le.Uint16(p[8:]))<<32
		if len(*tree) > 1<<16 {
			return fmt.Errorf("extent tree too large")
		}
		cb, err := m.get(child) // the cache: a leaf this transaction made is not home yet
		if err != nil {
			return err
		}
		*tree = append(*tree, child)
		if err := m.walkNode(cb, depth-1, exts, tree); err != nil {
			return err
		}
	}
	return nil
}

// extentReader reads a file's bytes through its extents; holes and
// unwritten extents read as zeros.
type extentReader struct {
	g    *geom
	exts []fileExtent
	size int64
}

func (r *extentReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		if off >= r.size {
			return n, errEOF
		}
		blk, in := off/r.g.BlockSize, off%r.g.BlockSize
		k := int(min(int64(len(b)-n), r.size-off))
		i := sort.Search(len(r.exts), func(i int) bool { return r.exts[i].logical+r.exts[i].n > blk })
		switch {
		case i == len(r.exts):
			clear(b[n : n+k])
		case r.exts[i].logical > blk:
			k = int(min(int64(k), (r.exts[i].logical-blk)*r.g.BlockSize-in))
			clear(b[n : n+k])
		default:
			e := r.exts[i]
			k = int(min(int64(k), (e.logical+e.n-blk)*r.g.BlockSize-in))
			if e.uninit {
				clear(b[n : n+k])
			} else if _, err := r.g.dev.ReadAt(b[n:n+k], r.g.off+(e.start+blk-e.logical)*r.g.BlockSize+in); err != nil {
				return n, err
			}
		}
		n += k
		off += int64(k)
	}
	return n, nil
}

// blockMap reads an inode that maps its blocks the ext2/3 way (e2fsck
// makes lost+found so): 12 direct blocks, then single, double and triple
// indirect blocks. Only reading is supported; Update never writes one.
func (m *meta) blockMap(ino []byte) ([]fileExtent, []int64, error) {
	var exts []fileExtent
	var tree []int64
	logical := int64(0)
	limit := (inodeSize(ino) + m.g.BlockSize - 1) / m.g.BlockSize
	add := func(b int64) error {
		if b != 0 {
			if b < m.g.FirstData || b >= m.g.Blocks {
				return fmt.Errorf("block %d is outside the volume", b)
			}
			if k := len(exts) - 1; k >= 0 && exts[k].start+exts[k].n == b && exts[k].logical+exts[k].n == logical && exts[k].n < maxExtent {
				exts[k].n++
			} else {
				exts = append(exts, fileExtent{extent: extent{logical, b, 1}})
			}
		}
		logical++
		return nil
	}
	var walk func(b int64, level int) error
	walk = func(b int64, level int) error {
		per := m.g.BlockSize / 4
		span := int64(1)
		for i := 0; i < level; i++ {
			span *= per
		}
		if b == 0 {
			logical += span
			return nil
		}
		if level == 0 {
			return add(b)
		}
		blk, err := m.g.readBlock(b)
		if err != nil {
			return err
		}
		tree = append(tree, b)
		for i := int64(0); i < per && logical < limit; i++ {
			if err := walk(int64(le.Uint32(blk[4*i:])), level-1); err != nil {
				return err
			}
		}
		return nil
	}
	for i := 0; i < 15 && logical < limit; i++ {
		level := max(0, i-11)
		if err := walk(int64(le.Uint32(ino[0x28+4*i:])), level); err != nil {
			return nil, nil, err
		}
	}
	return exts, tree, nil
}

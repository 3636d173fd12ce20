package disk

import (
	"encoding/binary"
	"fmt"
	"io"
	"sort"
)

// extNode is one node of an inode's extent tree as read from the image:
// the 60 bytes of the inode's root, or a tree block.
type extNode struct {
	buf      []byte
	at       int64 // image offset of buf
	children []*extNode
}

func (n *extNode) entries() int { return int(binary.LittleEndian.Uint16(n.buf[2:])) }
func (n *extNode) depth() int   { return int(binary.LittleEndian.Uint16(n.buf[6:])) }
func (n *extNode) entry(i int) []byte {
	return n.buf[12+12*i : 24+12*i]
}

// diskOrder renumbers the extent tree of inode ino, a deferred file that
// holds no bytes yet, so that its file order is its disk order: the device
// writer (compose/device) streams each source front to back in image order,
// hashing it on the way. go-diskfs does not allocate in that order: it
// takes the first free run from group 0 that is long enough, and across
// groups the longest runs first. With no bytes written, which file block
// maps to which allocated block is free to choose, so the leaves keep
// their runs (each at most 32768 blocks) and entry counts, sorted by disk
// position, and the logical numbers and index keys are counted anew.
func (g ext4Geom) diskOrder(f interface {
	io.ReaderAt
	io.WriterAt
}, off, ino int64) error {
	inode, at, err := g.readInode(f, off, ino)
	if err != nil {
		return err
	}
	root := &extNode{buf: inode[0x28 : 0x28+60], at: at + 0x28}
	var all []*extNode
	if err := g.loadNode(f, off, root, 0, &all); err != nil {
		return err
	}
	type run struct{ start, n int64 }
	var slots [][]byte
	var runs []run
	for _, n := range all {
		if n.depth() != 0 {
			continue
		}
		for i := range n.entries() {
			e := n.entry(i)
			l := int64(binary.LittleEndian.Uint16(e[4:]))
			if l > maxExtentBlocks {
				return fmt.Errorf("uninitialized extent at file block %d", binary.LittleEndian.Uint32(e))
			}
			slots = append(slots, e)
			runs = append(runs, run{int64(binary.LittleEndian.Uint16(e[6:]))<<32 | int64(binary.LittleEndian.Uint32(e[8:])), l})
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].start < runs[j].start })
	var logical uint32
	for i, e := range slots {
		binary.LittleEndian.PutUint32(e, logical)
		binary.LittleEndian.PutUint16(e[4:], uint16(runs[i].n))
		binary.LittleEndian.PutUint16(e[6:], uint16(runs[i].start>>32))
		binary.LittleEndian.PutUint32(e[8:], uint32(runs[i].start))
		logical += uint32(runs[i].n)
	}
	rekey(root)
	for _, n := range all {
		if _, err := f.WriteAt(n.buf, n.at); err != nil {
			return fmt.Errorf("writing the extent tree: %w", err)
		}
	}
	return nil
}

// loadNode reads n's children, depth first, and lists n and every node
// below it in all, in tree order.
func (g ext4Geom) loadNode(f io.ReaderAt, off int64, n *extNode, level int, all *[]*extNode) error {
	le := binary.LittleEndian
	if len(n.buf) < 12 || le.Uint16(n.buf) != 0xf30a || level > 5 || 12+12*n.entries() > len(n.buf) {
		return fmt.Errorf("bad extent tree node")
	}
	*all = append(*all, n)
	if n.depth() == 0 {
		return nil
	}
	for i := range n.entries() {
		e := n.entry(i)
		child := int64(le.Uint32(e[4:])) | int64(le.Uint16(e[8:]))<<32
		c := &extNode{buf: make([]byte, g.BlockSize), at: off + child*g.BlockSize}
		if _, err := f.ReadAt(c.buf, c.at); err != nil {
			return fmt.Errorf("reading extent block %d: %w", child, err)
		}
		if c.depth() != n.depth()-1 {
			return fmt.Errorf("extent block %d has depth %d under depth %d", child, c.depth(), n.depth())
		}
		n.children = append(n.children, c)
		if err := g.loadNode(f, off, c, level+1, all); err != nil {
			return err
		}
	}
	return nil
}

// rekey sets every index entry's key to the first file block below it and
// returns n's first file block.
func rekey(n *extNode) uint32 {
	if n.depth() == 0 {
		return binary.LittleEndian.Uint32(n.entry(0))
	}
	for i, c := range n.children {
		binary.LittleEndian.PutUint32(n.entry(i), rekey(c))
	}
	return binary.LittleEndian.Uint32(n.entry(0))
}

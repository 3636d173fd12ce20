package disk

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/usbkit/compose/compose/internal/ext4fmt"
)

// deferred says whether f's bytes are left for the caller (Spec.Defer).
func (b *builder) deferred(f File) bool { return b.deferSrc && f.Source != "" && f.size() > 0 }

// placeDeferred records a file whose blocks are allocated at ext but whose
// bytes are not written.
func (b *builder) placeDeferred(p *Partition, f File, ext []Extent) {
	b.placed = append(b.placed, Placed{Path: f.Path, Partition: p.Index, Size: f.Size, SHA256: f.SHA256,
		Extents: ext, Deferred: true, Source: f.Source, Algorithm: f.Algorithm, Digest: f.Digest})
}

// withoutDeferred is l without the files Spec.Defer leaves out, for what
// reads the image's files back.
func withoutDeferred(l Layout, on bool) Layout {
	if !on {
		return l
	}
	out := l
	out.Partitions = make([]Partition, len(l.Partitions))
	for i, p := range l.Partitions {
		p.Files = nil
		for _, f := range l.Partitions[i].Files {
			if f.Source == "" || f.size() == 0 {
				p.Files = append(p.Files, f)
			}
		}
		out.Partitions[i] = p
	}
	return out
}

// maxExtentBlocks is the longest initialized ext4 extent: a leaf's length
// field above 32768 marks the extent uninitialized (reads as zeros).
const maxExtentBlocks = 32768

// allocateExt4 gives an ext4 file all its blocks with go-diskfs writes of
// one byte every step and of its last byte (go-diskfs allocates every
// block up to the write, it makes no holes) and reads the blocks' image
// ranges back from the inode's extent tree, once diskOrder has put them in
// disk order. A step is one maximal extent (32768 blocks: 32 MiB with
// 1 KiB blocks, 128 MiB with 4 KiB): go-diskfs v1.9.4 refuses to allocate
// more than 65535 blocks in one write (a 128 MiB step failed with 1 KiB
// blocks), and cuts what it allocates into extents of at most 32768.
func (b *builder) allocateExt4(h filesystem.File, p *Partition, f File) ([]Extent, error) {
	g, _, err := readExt4Geom(b.f, p.Offset)
	if err != nil {
		return nil, err
	}
	step := maxExtentBlocks * g.BlockSize
	for off := min(step, f.Size) - 1; ; off = min(off+step, f.Size-1) {
		if _, err := h.Seek(off, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := h.Write([]byte{0}); err != nil {
			return nil, err
		}
		if off == f.Size-1 {
			break
		}
	}
	st, err := h.Stat()
	if err != nil {
		return nil, err
	}
	sys, ok := st.Sys().(*ext4.StatT)
	if !ok {
		return nil, fmt.Errorf("go-diskfs gave no inode number (%T)", st.Sys())
	}
	if err := g.diskOrder(b.f, p.Offset, int64(sys.Ino)); err != nil {
		return nil, fmt.Errorf("inode %d: %w", sys.Ino, err)
	}
	ext, err := g.fileExtents(b.f, p.Offset, int64(sys.Ino))
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", sys.Ino, err)
	}
	return trimExtents(ext, f.Size, p)
}

// trimExtents cuts the extents to size bytes and checks they lie in p.
func trimExtents(ext []Extent, size int64, p *Partition) ([]Extent, error) {
	var out []Extent
	left := size
	for _, e := range ext {
		if e.Offset < p.Offset || e.Offset+e.Length > p.Offset+p.Size {
			return nil, fmt.Errorf("extent at %d+%d lies outside the partition", e.Offset, e.Length)
		}
		e.Length = min(e.Length, left)
		out = append(out, e)
		if left -= e.Length; left == 0 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("extents hold %d bytes fewer than the file", left)
}

// fileExtents reads inode ino's extent tree and returns its leaves' image
// ranges in file order; a gap in the file (a hole) is an error, as is an
// uninitialized extent: a deferred file must have every block in place.
func (g ext4Geom) fileExtents(f io.ReaderAt, off, ino int64) ([]Extent, error) {
	inode, _, err := g.readInode(f, off, ino)
	if err != nil {
		return nil, err
	}
	w := extentWalk{f: f, off: off, bs: g.BlockSize}
	if err := w.node(inode[0x28:0x28+60], 0); err != nil {
		return nil, err
	}
	return w.out, nil
}

// readInode returns inode ino of an extent-mapped file and its image
// offset.
func (g ext4Geom) readInode(f io.ReaderAt, off, ino int64) ([]byte, int64, error) {
	le := binary.LittleEndian
	grp, idx := (ino-1)/g.InodesPerGroup, (ino-1)%g.InodesPerGroup
	d := make([]byte, g.DescSize)
	if _, err := f.ReadAt(d, off+(g.FirstData+1)*g.BlockSize+grp*g.DescSize); err != nil {
		return nil, 0, fmt.Errorf("reading group descriptor %d: %w", grp, err)
	}
	table := int64(le.Uint32(d[8:]))
	if g.Is64 && g.DescSize >= 64 {
		table |= int64(le.Uint32(d[0x28:])) << 32
	}
	at := off + table*g.BlockSize + idx*g.InodeSize
	inode := make([]byte, g.InodeSize)
	if _, err := f.ReadAt(inode, at); err != nil {
		return nil, 0, fmt.Errorf("reading inode: %w", err)
	}
	if le.Uint32(inode[0x20:])&0x80000 == 0 {
		return nil, 0, fmt.Errorf("not an extent-mapped inode")
	}
	return inode, at, nil
}

type extentWalk struct {
	f       io.ReaderAt
	off, bs int64
	next    int64 // the file block the next leaf must start at
	out     []Extent
}

func (w *extentWalk) node(n []byte, level int) error {
	le := binary.LittleEndian
	if len(n) < 12 || le.Uint16(n) != 0xf30a || level > 5 {
		return fmt.Errorf("bad extent tree node")
	}
	entries, depth := int(le.Uint16(n[2:])), le.Uint16(n[6:])
	if 12+12*entries > len(n) {
		return fmt.Errorf("extent node holds %d entries, room for %d", entries, (len(n)-12)/12)
	}
	for i := range entries {
		e := n[12+12*i:]
		if depth > 0 {
			child := int64(le.Uint32(e[4:])) | int64(le.Uint16(e[8:]))<<32
			buf := make([]byte, w.bs)
			if _, err := w.f.ReadAt(buf, w.off+child*w.bs); err != nil {
				return fmt.Errorf("reading extent block %d: %w", child, err)
			}
			if err := w.node(buf, level+1); err != nil {
				return err
			}
			continue
		}
		if err := w.leaf(e); err != nil {
			return err
		}
	}
	return nil
}

func (w *extentWalk) leaf(e []byte) error {
	le := binary.LittleEndian
	block, n := int64(le.Uint32(e)), int64(le.Uint16(e[4:]))
	if n > maxExtentBlocks {
		return fmt.Errorf("uninitialized extent at file block %d", block)
	}
	if block != w.next {
		return fmt.Errorf("extent at file block %d, want %d (a hole)", block, w.next)
	}
	start := int64(le.Uint16(e[6:]))<<32 | int64(le.Uint32(e[8:]))
	ext := Extent{Offset: w.off + start*w.bs, Length: n * w.bs}
	if k := len(w.out) - 1; k >= 0 && w.out[k].Offset+w.out[k].Length == ext.Offset {
		w.out[k].Length += ext.Length
	} else {
		w.out = append(w.out, ext)
	}
	w.next = block + n
	return nil
}

// readExt4Geom reads the geometry of the ext4 volume at off and its
// superblock.
func readExt4Geom(f io.ReaderAt, off int64) (ext4Geom, []byte, error) {
	g, sb, err := ext4fmt.ReadGeom(f, off)
	if err != nil {
		return ext4Geom{}, nil, fmt.Errorf("ext4 volume at %d: %w", off, err)
	}
	return ext4Geom{g}, sb, nil
}

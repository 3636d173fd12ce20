package ext4edit

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

var errEOF = io.EOF

// ErrNeedsRecovery is returned (wrapped) by reads and Update on a volume
// whose journal holds a committed transaction: call Recover first.
var ErrNeedsRecovery = errors.New("the ext4 volume's journal holds a committed transaction: Recover it first")

const (
	modeType = 0xF000
	modeDir  = 0x4000
	modeReg  = 0x8000
)

// Volume is an open ext4 volume with a journal.
type Volume struct {
	g       *geom
	m       *meta
	j       *journal
	root    *node
	recover bool
	seen    map[int64]bool // directories read, against loops
}

// File is one regular file of the volume.
type File struct {
	Path string
	Size int64
}

type node struct {
	path, name string
	ino        int64
	dir        bool
	size       int64
	kids       []*node
}

// Open reads the ext4 volume at byte offset off of dev: its geometry, its
// journal and, unless the journal needs recovery, its directory tree.
func Open(dev Device, off int64) (*Volume, error) {
	g, sb, err := readGeom(dev, off)
	if err != nil {
		return nil, err
	}
	if le.Uint32(sb[sbCompat:])&compatHasJournal == 0 {
		return nil, fmt.Errorf("ext4 volume at offset %d: %w", off, ErrNoJournal)
	}
	if n := le.Uint32(sb[sbJournalInum:]); n != journalIno {
		return nil, fmt.Errorf("%w: journal in inode %d", ErrUnsupported, n)
	}
	v := &Volume{g: g}
	if err := v.load(false); err != nil {
		return nil, err
	}
	return v, nil
}

// load (re)reads the metadata, the journal and the tree; stale reads the
// tree even when the journal needs recovery, as GRUB does (tests use it).
func (v *Volume) load(stale bool) error {
	m, err := v.g.loadMeta()
	if err != nil {
		return err
	}
	v.m, v.root = m, nil
	if v.j, err = m.openJournal(); err != nil {
		return err
	}
	v.recover = v.j.start != 0
	if v.recover && !stale {
		return nil
	}
	v.root = &node{path: "/", ino: rootIno, dir: true}
	v.seen = map[int64]bool{rootIno: true}
	return v.readDir(v.root, 0)
}

// NeedsRecovery says whether a committed transaction was not fully
// checkpointed (Recover replays it).
func (v *Volume) NeedsRecovery() bool { return v.recover }

func (v *Volume) readDir(d *node, depth int) error {
	if depth > 32 {
		return fmt.Errorf("%s: directories nested too deep", d.path)
	}
	ents, err := v.m.dirEntries(d.ino)
	if err != nil {
		return fmt.Errorf("directory %s: %w", d.path, err)
	}
	for _, e := range ents {
		if e.name == "." || e.name == ".." {
			continue
		}
		ino, err := v.m.inode(e.ino)
		if err != nil {
			return fmt.Errorf("%s/%s: %w", strings.TrimSuffix(d.path, "/"), e.name, err)
		}
		k := &node{name: e.name, path: strings.TrimSuffix(d.path, "/") + "/" + e.name, ino: e.ino, size: inodeSize(ino)}
		switch le.Uint16(ino[0:]) & modeType {
		case modeDir:
			if v.seen[e.ino] {
				return fmt.Errorf("%s: directory inode %d appears twice in the tree", k.path, e.ino)
			}
			v.seen[e.ino] = true
			k.dir = true
			if err := v.readDir(k, depth+1); err != nil {
				return err
			}
		case modeReg:
		default:
			continue // symlinks and devices are not files here
		}
		d.kids = append(d.kids, k)
	}
	return nil
}

func inodeSize(ino []byte) int64 {
	return int64(le.Uint32(ino[0x04:])) | int64(le.Uint32(ino[0x6c:]))<<32
}

// Files lists the regular files, sorted by path (none while the volume
// needs recovery).
func (v *Volume) Files() []File {
	var out []File
	walkFiles(v.root, func(n *node) { out = append(out, File{Path: n.path, Size: n.size}) })
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func walkFiles(d *node, f func(*node)) {
	if d == nil {
		return
	}
	for _, k := range d.kids {
		if k.dir {
			walkFiles(k, f)
		} else {
			f(k)
		}
	}
}

func (v *Volume) lookup(p string) *node {
	cur := v.root
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" || cur == nil {
			continue
		}
		var next *node
		for _, k := range cur.kids {
			if k.name == part {
				next = k
			}
		}
		cur = next
	}
	return cur
}

// Open returns a reader of the file at path, through its extents.
func (v *Volume) Open(path string) (*io.SectionReader, error) {
	if v.recover {
		return nil, fmt.Errorf("%s: %w", path, ErrNeedsRecovery)
	}
	n := v.lookup(path)
	if n == nil || n.dir {
		return nil, fmt.Errorf("%s: no such file on the volume", path)
	}
	ino, err := v.m.inode(n.ino)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	exts, _, err := v.m.extents(ino)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return io.NewSectionReader(&extentReader{g: v.g, exts: exts, size: n.size}, 0, n.size), nil
}

// Free is the bytes of free blocks, from the group descriptors.
func (v *Volume) Free() int64 {
	var n int64
	for grp := int64(0); grp < v.g.Groups; grp++ {
		d, _ := v.m.desc(grp)
		n += int64(le.Uint16(d[0x0c:]))
		if v.g.Is64 && v.g.DescSize >= 64 {
			n += int64(le.Uint16(d[0x2c:])) << 16
		}
	}
	return n * v.g.BlockSize
}

// BlockSize is the allocation unit in bytes.
func (v *Volume) BlockSize() int64 { return v.g.BlockSize }

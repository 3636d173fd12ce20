package ext4edit

import (
	"fmt"
	"path"
	"strings"
)

// dirent is one directory entry with where it lives.
type dirent struct {
	ino     int64
	name    string
	ftype   byte
	blk     int64 // volume block holding it
	at, rec int   // offset in the block and rec_len
	prev    int   // offset of the previous entry in the block, -1 if first
}

// dirEntries reads a linear directory's entries (in-use ones only).
func (m *meta) dirEntries(dirIno int64) ([]dirent, error) {
	ino, err := m.inode(dirIno)
	if err != nil {
		return nil, err
	}
	if le.Uint16(ino[0:])&modeType != modeDir {
		return nil, fmt.Errorf("inode %d is not a directory", dirIno)
	}
	if le.Uint32(ino[0x20:])&flagIndex != 0 {
		return nil, fmt.Errorf("%w: hashed (dir_index) directory", ErrUnsupported)
	}
	exts, _, err := m.extents(ino)
	if err != nil {
		return nil, err
	}
	var out []dirent
	for _, e := range exts {
		if e.uninit || e.n > 1<<16 {
			return nil, fmt.Errorf("directory with an unwritten or huge extent")
		}
		for i := int64(0); i < e.n; i++ {
			blk := e.start + i
			b, err := m.get(blk)
			if err != nil {
				return nil, err
			}
			ents, err := parseDirBlock(b, blk)
			if err != nil {
				return nil, fmt.Errorf("directory block %d: %w", blk, err)
			}
			out = append(out, ents...)
		}
	}
	return out, nil
}

func parseDirBlock(b []byte, blk int64) ([]dirent, error) {
	var out []dirent
	prev := -1
	for at := 0; at < len(b); {
		if at+8 > len(b) {
			return nil, fmt.Errorf("entry at %d runs past the block", at)
		}
		rec, nl := int(le.Uint16(b[at+4:])), int(b[at+6])
		if rec < 8 || rec%4 != 0 || at+rec > len(b) || 8+nl > rec {
			return nil, fmt.Errorf("bad entry at %d (rec_len %d, name_len %d)", at, rec, nl)
		}
		if n := int64(le.Uint32(b[at:])); n != 0 {
			out = append(out, dirent{ino: n, name: string(b[at+8 : at+8+nl]), ftype: b[at+7], blk: blk, at: at, rec: rec, prev: prev})
		}
		prev, at = at, at+rec
	}
	return out, nil
}

// recLen is the space an entry with a name of n bytes needs.
func recLen(n int) int { return (8 + n + 3) &^ 3 }

// lookupDir finds a directory's inode by path in the (changing) tree.
func (u *updater) lookupDir(p string) (int64, error) {
	ino := int64(rootIno)
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		e, err := u.find(ino, part)
		if err != nil {
			return 0, err
		}
		if e == nil {
			return 0, nil
		}
		if e.ftype != 2 {
			return 0, fmt.Errorf("%s: %s is not a directory", p, part)
		}
		ino = e.ino
	}
	return ino, nil
}

func (u *updater) find(dir int64, name string) (*dirent, error) {
	ents, err := u.m.dirEntries(dir)
	if err != nil {
		return nil, err
	}
	for i := range ents {
		if ents[i].name == name {
			return &ents[i], nil
		}
	}
	return nil, nil
}

// mkdirAll returns the inode of directory p, creating what is missing.
func (u *updater) mkdirAll(p string) (int64, error) {
	ino, err := u.lookupDir(p)
	if err != nil || ino != 0 {
		return ino, err
	}
	parent, err := u.mkdirAll(path.Dir(p))
	if err != nil {
		return 0, err
	}
	return u.mkdir(parent, path.Base(p))
}

func (u *updater) mkdir(parent int64, name string) (int64, error) {
	n, err := u.m.takeInode()
	if err != nil {
		return 0, err
	}
	runs, err := u.m.alloc(1)
	if err != nil {
		return 0, err
	}
	blk := runs[0].start
	b := u.newBlock(blk, true)
	putEntry(b[0:], n, ".", 2, 12)
	putEntry(b[12:], parent, "..", 2, int(u.g.BlockSize)-12)
	ino := make([]byte, u.g.InodeSize)
	u.g.fillInode(ino, 0o40755, u.g.BlockSize, 1, u.t)
	le.PutUint16(ino[0x1a:], 2)
	putExtents(ino[0x28:0x28+60], []extent{{0, blk, 1}})
	if err := u.m.putInode(n, ino); err != nil {
		return 0, err
	}
	pi, err := u.m.inode(parent)
	if err != nil {
		return 0, err
	}
	le.PutUint16(pi[0x1a:], le.Uint16(pi[0x1a:])+1)
	if err := u.m.putInode(parent, pi); err != nil {
		return 0, err
	}
	grp := (n - 1) / u.g.InodesPerGroup
	d, _ := u.m.desc(grp)
	u.g.addFree(d, 0x10, 1) // used directories
	u.m.mark(u.m.descBlockNo(grp))
	return n, u.addEntry(parent, name, n, 2)
}

// newBlock puts a zeroed block, just allocated, in the transaction. Fresh
// blocks are also written home before the commit (they are free on disk
// until then), so a reader that never replays finds them complete
// whenever a checkpointed inode names them.
func (u *updater) newBlock(blk int64, dir bool) []byte {
	b := make([]byte, u.g.BlockSize)
	u.m.cache[blk] = b
	u.m.mark(blk)
	u.fresh = append(u.fresh, blk)
	if dir {
		u.dirBlocks[blk] = true
	}
	return b
}

func putEntry(b []byte, ino int64, name string, ftype byte, rec int) {
	le.PutUint32(b[0:], uint32(ino))
	le.PutUint16(b[4:], uint16(rec))
	b[6] = byte(len(name))
	b[7] = ftype
	copy(b[8:], name)
}

// addEntry adds name → ino to directory dir: in the first gap big
// enough, else in a new block appended to the directory.
func (u *updater) addEntry(dir int64, name string, ino int64, ftype byte) error {
	need := recLen(len(name))
	di, err := u.m.inode(dir)
	if err != nil {
		return err
	}
	exts, _, err := u.m.extents(di)
	if err != nil {
		return err
	}
	for _, e := range exts {
		for i := int64(0); i < e.n; i++ {
			b, err := u.m.get(e.start + i)
			if err != nil {
				return err
			}
			for at := 0; at+8 <= len(b); {
				rec := int(le.Uint16(b[at+4:]))
				if rec < 8 || at+rec > len(b) {
					return fmt.Errorf("directory %d: bad entry at %d", dir, at)
				}
				used := 0
				if le.Uint32(b[at:]) != 0 {
					used = recLen(int(b[at+6]))
				}
				if rec-used >= need {
					if used > 0 {
						le.PutUint16(b[at+4:], uint16(used))
					}
					putEntry(b[at+used:], ino, name, ftype, rec-used)
					u.m.mark(e.start + i)
					u.dirBlocks[e.start+i] = true
					return nil
				}
				at += rec
			}
		}
	}
	return u.growDir(dir, di, exts, name, ino, ftype)
}

func (u *updater) growDir(dir int64, di []byte, exts []fileExtent, name string, ino int64, ftype byte) error {
	if d := le.Uint16(di[0x28+6:]); d > 1 {
		return fmt.Errorf("%w: directory %d has an extent tree of depth %d", ErrUnsupported, dir, d)
	}
	_, oldTree, err := u.m.extents(di)
	if err != nil {
		return err
	}
	runs, err := u.m.alloc(1)
	if err != nil {
		return err
	}
	blk := runs[0].start
	putEntry(u.newBlock(blk, true), ino, name, ftype, int(u.g.BlockSize))
	var plain []extent
	var data int64
	for _, e := range exts {
		plain = append(plain, e.extent)
		data += e.n
	}
	logical := inodeSize(di) / u.g.BlockSize
	if k := len(plain) - 1; k >= 0 && plain[k].start+plain[k].n == blk && plain[k].logical+plain[k].n == logical && plain[k].n < maxExtent {
		plain[k].n++
	} else {
		plain = append(plain, extent{logical, blk, 1})
	}
	data++
	leaves, err := u.dirTree(di[0x28:0x28+60], plain)
	if err != nil {
		return fmt.Errorf("directory %d: %w", dir, err)
	}
	for _, b := range oldTree {
		u.m.release(b, 1) // replaced by fresh leaves: live ones are never rewritten in place
	}
	size := (logical + 1) * u.g.BlockSize
	le.PutUint32(di[0x04:], uint32(size))
	le.PutUint32(di[0x6c:], uint32(size>>32))
	le.PutUint32(di[0x1c:], uint32((data+leaves)*(u.g.BlockSize/512)))
	return u.m.putInode(dir, di)
}

// dirTree stores a directory's extents in its inode root, or, past 4, in
// fresh leaf blocks of a depth-1 tree; it returns the leaves used.
func (u *updater) dirTree(root []byte, exts []extent) (int64, error) {
	if len(exts) <= 4 {
		putExtents(root, exts)
		return 0, nil
	}
	per := int((u.g.BlockSize - 12) / 12)
	nl := (len(exts) + per - 1) / per
	if nl > 4 {
		return 0, fmt.Errorf("%w: %d extents", ErrUnsupported, len(exts))
	}
	runs, err := u.m.alloc(int64(nl))
	if err != nil {
		return 0, err
	}
	var idx []extent
	i := 0
	for _, r := range runs {
		for k := int64(0); k < r.n; k++ {
			chunk := exts[i*per : min((i+1)*per, len(exts))]
			putExtents(u.newBlock(r.start+k, false), chunk)
			idx = append(idx, extent{logical: chunk[0].logical, start: r.start + k})
			i++
		}
	}
	putIndex(root, idx)
	return int64(nl), nil
}

// removeEntry removes name from directory dir, merging its space into the
// entry before it.
func (u *updater) removeEntry(dir int64, name string) error {
	e, err := u.find(dir, name)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("no entry %q in directory %d", name, dir)
	}
	b, err := u.m.get(e.blk)
	if err != nil {
		return err
	}
	if e.prev >= 0 {
		le.PutUint16(b[e.prev+4:], uint16(int(le.Uint16(b[e.prev+4:]))+e.rec))
	} else {
		le.PutUint32(b[e.at:], 0)
	}
	u.m.mark(e.blk)
	u.dirBlocks[e.blk] = true
	return nil
}

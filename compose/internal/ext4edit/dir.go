package ext4edit

import "fmt"

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

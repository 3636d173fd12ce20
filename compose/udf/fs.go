package udf

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// node is a resolved name: its entry and where it was found.
type node struct {
	name string
	icb  longAD
	e    *entry
}

// lookup resolves name (fs.ValidPath) from the root.
func (f *FS) lookup(op, name string) (*node, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	n, err := f.node(".", f.root)
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if name == "." {
		return n, nil
	}
	for _, elem := range strings.Split(name, "/") {
		if n.e.typ != typeDir {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		fids, err := f.dir(n)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		i := slices.IndexFunc(fids, func(d fid) bool { return d.name == elem })
		if i < 0 {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if n, err = f.node(elem, fids[i].icb); err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
	}
	return n, nil
}

func (f *FS) node(name string, icb longAD) (*node, error) {
	p, err := f.part(icb.ref)
	if err != nil {
		return nil, err
	}
	e, err := f.readEntry(p, icb.lbn)
	if err != nil {
		return nil, err
	}
	return &node{name: name, icb: icb, e: e}, nil
}

// extent names where an entry lies, for bootloader's walk, which refuses
// a directory met twice (a loop): never 0.
func extent(icb longAD) int64 { return int64(icb.ref)<<32 | int64(icb.lbn) + 1 }

// dir reads a directory's names, from the cache when it holds them.
func (f *FS) dir(n *node) ([]fid, error) {
	key := extent(n.icb)
	f.mu.Lock()
	fids, ok := f.dirs[key]
	f.mu.Unlock()
	if ok {
		return fids, nil
	}
	fids, err := f.readDir(n)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.dirs) >= maxCachedDirs || f.cached+len(fids) > maxCachedNames {
		clear(f.dirs)
		f.cached = 0
	}
	f.dirs[key] = fids
	f.cached += len(fids)
	return fids, nil
}

func (f *FS) readDir(n *node) ([]fid, error) {
	where := fmt.Sprintf("directory %q", n.name)
	if n.e.size > maxDir {
		return nil, malformed("%s: %d bytes (more than %d MiB)", where, n.e.size, maxDir>>20)
	}
	data := n.e.embedded
	if data == nil {
		data = make([]byte, n.e.size)
		if _, err := f.readAt(&n.e.ext, data, 0); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	return parseDir(data, where)
}

// Open opens the named file or directory.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.lookup("open", name)
	if err != nil {
		return nil, err
	}
	return &File{f: f, n: n}, nil
}

// Stat describes the named file.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.lookup("stat", name)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// ReadDir lists the named directory, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.lookup("readdir", name)
	if err != nil {
		return nil, err
	}
	return f.entries(name, n)
}

func (f *FS) entries(name string, n *node) ([]fs.DirEntry, error) {
	if n.e.typ != typeDir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	fids, err := f.dir(n)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	out := make([]fs.DirEntry, len(fids))
	for i, d := range fids {
		out[i] = dirEntry{f: f, fid: d}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// dirEntry is a name in a directory; Info reads its file entry.
type dirEntry struct {
	f   *FS
	fid fid
}

func (d dirEntry) Name() string { return d.fid.name }
func (d dirEntry) IsDir() bool  { return d.fid.dir }
func (d dirEntry) Type() fs.FileMode {
	if d.fid.dir {
		return fs.ModeDir
	}
	return 0
}

// Extent is where the entry's file entry lies (see extent).
func (d dirEntry) Extent() (int64, bool) { return extent(d.fid.icb), d.fid.dir }

func (d dirEntry) Info() (fs.FileInfo, error) {
	n, err := d.f.node(d.fid.name, d.fid.icb)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: d.fid.name, Err: err}
	}
	return info{n}, nil
}

// info is a node's fs.FileInfo.
type info struct{ n *node }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.e.size }
func (i info) ModTime() time.Time { return i.n.e.mtime }
func (i info) IsDir() bool        { return i.n.e.typ == typeDir }
func (i info) Sys() any           { return nil }

// Extent is where the file's entry lies (see extent).
func (i info) Extent() (int64, bool) { return extent(i.n.icb), i.IsDir() }
func (i info) Mode() fs.FileMode {
	switch i.n.e.typ {
	case typeDir:
		return fs.ModeDir | 0o555
	case typeFile, typeRealTm:
		return 0o444
	case typeSymlink:
		return fs.ModeSymlink | 0o444
	}
	return fs.ModeIrregular | 0o444
}

// File is an open file or directory of an FS. Besides fs.File it is an
// io.ReaderAt and io.Seeker; reads past its recorded extents give zeros
// where the image says the bytes are unrecorded.
type File struct {
	f   *FS
	n   *node
	pos int64
	dir []fs.DirEntry // what ReadDir has not returned yet
	ls  bool          // dir has been read
}

func (fl *File) Stat() (fs.FileInfo, error) { return info{fl.n}, nil }
func (fl *File) Close() error               { return nil }

// Size is the file's length in bytes.
func (fl *File) Size() int64 { return fl.n.e.size }

func (fl *File) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: fl.n.name, Err: fs.ErrInvalid}
	}
	if fl.n.e.typ == typeDir {
		return 0, &fs.PathError{Op: "read", Path: fl.n.name, Err: errors.New("is a directory")}
	}
	if e := fl.n.e.embedded; e != nil || fl.n.e.size == 0 {
		if off >= int64(len(e)) {
			return 0, io.EOF
		}
		n := copy(b, e[off:])
		if n < len(b) {
			return n, io.EOF
		}
		return n, nil
	}
	n, err := fl.f.readAt(&fl.n.e.ext, b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		err = &fs.PathError{Op: "read", Path: fl.n.name, Err: err}
	}
	return n, err
}

func (fl *File) Read(b []byte) (int, error) {
	n, err := fl.ReadAt(b, fl.pos)
	fl.pos += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (fl *File) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += fl.pos
	case io.SeekEnd:
		off += fl.n.e.size
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: fl.n.name, Err: fs.ErrInvalid}
	}
	fl.pos = off
	return off, nil
}

// ReadDir lists the directory as fs.ReadDirFile does.
func (fl *File) ReadDir(count int) ([]fs.DirEntry, error) {
	if !fl.ls {
		es, err := fl.f.entries(fl.n.name, fl.n)
		if err != nil {
			return nil, err
		}
		fl.dir, fl.ls = es, true
	}
	if count <= 0 {
		es := fl.dir
		fl.dir = nil
		return es, nil
	}
	if len(fl.dir) == 0 {
		return nil, io.EOF
	}
	k := min(count, len(fl.dir))
	es := fl.dir[:k]
	fl.dir = fl.dir[k:]
	return es, nil
}

// Contiguous returns the image byte offset of the file's data when all of
// it is recorded in one run of the image's bytes (what oscdimg and
// genisoimage write), so that a caller can copy the range itself, in the
// kernel say; false for a directory, an empty, embedded, sparse or
// fragmented file, or one whose bytes run past the image.
func (fl *File) Contiguous() (int64, bool) {
	e := fl.n.e
	if e.typ == typeDir || e.embedded != nil || e.size == 0 || len(e.ext.runs) == 0 {
		return 0, false
	}
	start, pos := e.ext.runs[0].off, int64(0)
	for _, r := range e.ext.runs {
		if r.off < 0 || r.pos != pos || r.off != start+r.pos {
			return 0, false
		}
		pos += r.n
	}
	if pos < e.size || start < 0 || start+e.size > fl.f.size {
		return 0, false
	}
	return start, true
}

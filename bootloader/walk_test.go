package bootloader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// extentFS is a file tree shaped like an ISO 9660 one as go-diskfs reads it: each
// directory is a list of records at an extent, and a path is resolved name by name from
// the root's extent. A crafted ISO can therefore name "." or point a directory at any
// extent, an ancestor's included.
type extentFS struct {
	root    int64
	extents map[int64][]xEntry
	fail    func(dir string) error // ReadDir's error for dir, if any
	index   map[int64]map[string]int64
}

type xEntry struct {
	name   string
	dir    bool
	extent int64
	size   int64
}

func (e xEntry) Name() string               { return e.name }
func (e xEntry) IsDir() bool                { return e.dir }
func (e xEntry) Type() fs.FileMode          { return e.Mode().Type() }
func (e xEntry) Info() (fs.FileInfo, error) { return e, nil }
func (e xEntry) Size() int64                { return e.size }
func (e xEntry) ModTime() time.Time         { return time.Time{} }
func (e xEntry) Sys() any                   { return nil }
func (e xEntry) Extent() (int64, bool)      { return e.extent, true }
func (e xEntry) Mode() fs.FileMode {
	if e.dir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}

func (x *extentFS) Open(name string) (fs.File, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
}

func (x *extentFS) Stat(name string) (fs.FileInfo, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return xEntry{name: ".", dir: true, extent: x.root}, nil
}

func (x *extentFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if x.fail != nil {
		if err := x.fail(name); err != nil {
			return nil, err
		}
	}
	at := x.root
	if name != "." {
		for _, part := range strings.Split(name, "/") {
			next, ok := x.lookup(at, part)
			if !ok {
				return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
			}
			at = next
		}
	}
	var out []fs.DirEntry
	for _, e := range x.extents[at] {
		out = append(out, e)
	}
	return out, nil
}

func (x *extentFS) lookup(at int64, name string) (int64, bool) {
	if x.index == nil {
		x.index = map[int64]map[string]int64{}
	}
	if x.index[at] == nil {
		x.index[at] = map[string]int64{}
		for _, e := range x.extents[at] {
			if e.dir {
				x.index[at][e.name] = e.extent
			}
		}
	}
	next, ok := x.index[at][name]
	return next, ok
}

// bootable is a live layout: what the hostile trees hide their trap beside.
func bootable(extra ...xEntry) []xEntry {
	return append([]xEntry{{name: "live", dir: true, extent: 30, size: 2048}}, extra...)
}

func liveDir() []xEntry {
	return []xEntry{{name: "vmlinuz", extent: 40, size: 1}, {name: "initrd.img", extent: 41, size: 1}}
}

// hostileTrees are the named ways a crafted ISO can send a tree walk into itself or
// make it read without end. Issue 22's F3 is "root-entry-dot".
func hostileTrees() map[string]struct {
	fsys *extentFS
	want string
} {
	wide := map[int64][]xEntry{30: liveDir()}
	var many []xEntry
	for i := range maxScanDirs + 1 {
		many = append(many, xEntry{name: fmt.Sprint("d", i), dir: true, extent: int64(100 + i), size: 2048})
	}
	wide[20] = append(many, bootable()...)
	files := map[int64][]xEntry{30: liveDir()}
	var fl []xEntry
	for i := range maxScanEntries + 1 {
		fl = append(fl, xEntry{name: fmt.Sprint("f", i), extent: 50, size: 1})
	}
	files[20] = bootable(fl...)
	huge := map[int64][]xEntry{30: liveDir()}
	var hd []xEntry
	for i := range 5 {
		hd = append(hd, xEntry{name: fmt.Sprint("h", i), dir: true, extent: int64(60 + i), size: 15 << 20})
	}
	huge[20] = bootable(hd...)
	tree := func(root []xEntry, more map[int64][]xEntry) *extentFS {
		m := map[int64][]xEntry{20: root, 30: liveDir()}
		for k, v := range more {
			m[k] = v
		}
		return &extentFS{root: 20, extents: m}
	}
	return map[string]struct {
		fsys *extentFS
		want string
	}{
		"root-entry-dot":     {tree(bootable(xEntry{name: ".", dir: true, extent: 20, size: 2048}), nil), `directory / holds an entry named "."`},
		"root-entry-empty":   {tree(bootable(xEntry{name: "", dir: true, extent: 20, size: 2048}), nil), `directory / holds an entry named ""`},
		"entry-dotdot":       {tree(bootable(xEntry{name: "a", dir: true, extent: 21}), map[int64][]xEntry{21: {{name: "..", dir: true, extent: 20}}}), `directory /a holds an entry named ".."`},
		"entry-slash":        {tree(bootable(xEntry{name: "a/b", dir: true, extent: 21}), nil), `directory / holds an entry named "a/b"`},
		"entry-nul":          {tree(bootable(xEntry{name: "a\x00", extent: 21}), nil), `directory / holds an entry named "a\x00"`},
		"dir-is-root":        {tree(bootable(xEntry{name: "a", dir: true, extent: 20, size: 2048}), nil), "directory /a has the records of its ancestor /: a loop"},
		"dir-is-parent":      {tree(bootable(xEntry{name: "a", dir: true, extent: 21}), map[int64][]xEntry{21: {{name: "b", dir: true, extent: 21}}}), "directory /a/b has the records of its ancestor /a: a loop"},
		"dirs-share-records": {tree(bootable(xEntry{name: "a", dir: true, extent: 21}, xEntry{name: "b", dir: true, extent: 21}), map[int64][]xEntry{21: nil}), "directory /b has the records of directory /a"},
		"too-many-dirs":      {&extentFS{root: 20, extents: wide}, "more than 20000 directories within 5 levels"},
		"too-many-entries":   {&extentFS{root: 20, extents: files}, "more than 200000 entries within 5 levels"},
		"huge-directories":   {&extentFS{root: 20, extents: huge}, "more than 64 MiB of records"},
	}
}

func TestScanRefusesHostileTrees(t *testing.T) {
	for name, tc := range hostileTrees() {
		t.Run(name, func(t *testing.T) {
			_, err := Inspect(tc.fsys, "X")
			if !errors.Is(err, ErrMalformedTree) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrMalformedTree %q, got %v", tc.want, err)
			}
		})
	}
}

// A tree deeper than any ISO (each level its own extent) is read to maxScanDepth and
// inspected.
func TestScanDeepTree(t *testing.T) {
	m := map[int64][]xEntry{30: liveDir()}
	m[20] = bootable(xEntry{name: "d", dir: true, extent: 1000})
	read := 0
	for i := int64(1000); i < 1200; i++ {
		m[i] = []xEntry{{name: "d", dir: true, extent: i + 1}, {name: "vmlinuz", extent: 50}}
	}
	fsys := &extentFS{root: 20, extents: m, fail: func(string) error { read++; return nil }}
	d, err := Inspect(fsys, "X")
	if err != nil || d.Kernel != "/live/vmlinuz" {
		t.Fatalf("%+v %v", d, err)
	}
	if read != maxScanDepth+2 { // the root, live, and d … d/d/d/d/d
		t.Errorf("read %d directories, want %d", read, maxScanDepth+2)
	}
}

// A cancelled walk (compose's ISO adapter fails every call once its context is
// cancelled) ends with that error, not with a partial tree.
func TestScanStopsWhenCancelled(t *testing.T) {
	m := map[int64][]xEntry{20: bootable(xEntry{name: "a", dir: true, extent: 21}), 30: liveDir(), 21: nil}
	fsys := &extentFS{root: 20, extents: m, fail: func(dir string) error {
		if dir == "a" {
			return fmt.Errorf("reading a: %w", context.Canceled)
		}
		return nil
	}}
	if _, err := Inspect(fsys, "X"); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// BenchmarkScanHostile: each hostile tree is refused; ns/op and B/op beside a plain
// live layout show what a refusal costs (the bounds are what keep it small).
//
//	go test -run '^$' -bench ScanHostile -benchmem ./bootloader/
func BenchmarkScanHostile(b *testing.B) {
	plain := &extentFS{root: 20, extents: map[int64][]xEntry{20: bootable(), 30: liveDir()}}
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := Inspect(plain, "X"); err != nil {
				b.Fatal(err)
			}
		}
	})
	for name, tc := range hostileTrees() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Inspect(tc.fsys, "X"); err == nil {
					b.Fatal("not refused")
				}
			}
		})
	}
}

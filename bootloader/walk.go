package bootloader

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Bounds on the scan of an ISO's tree. Real boot ISOs hold a few thousand
// entries within maxScanDepth (a DVD's package pools are skipped); a crafted
// one can claim millions, or loop. Every bound is an error, never a partial
// result: an inspection that saw half an ISO could pick the wrong kernel.
const (
	maxScanDepth    = 5        // directory levels read below the root
	maxScanDirs     = 20_000   // directories read
	maxScanEntries  = 200_000  // entries listed, all directories together
	maxScanDirBytes = 64 << 20 // directory records read, as their entries' sizes say
)

// ErrMalformedTree is matched by the error of a file tree that no ISO 9660
// writer makes: an entry named "", "." or "..", or holding "/" or NUL; a
// directory whose records are those of another directory (a loop when it is
// an ancestor); or more entries than any boot ISO has. The first two send a
// naive walk into itself forever (issue 22, F3).
var ErrMalformedTree = errors.New("malformed directory tree")

// treeError is an ErrMalformedTree whose message says what and where.
type treeError struct{ msg string }

func (e treeError) Error() string        { return e.msg }
func (e treeError) Is(target error) bool { return target == ErrMalformedTree }

func malformed(format string, a ...any) error { return treeError{fmt.Sprintf(format, a...)} }

// extenter is implemented by the entries (and fs.Stat(".") info) of a file
// tree that knows where each directory's records lie on disk, as compose's
// ISO 9660 adapter does; the scan then refuses a directory that reuses
// another's records. Other trees (fstest.MapFS) are scanned without it.
type extenter interface{ Extent() (int64, bool) }

// walker reads an ISO's tree breadth-first, without recursion, counting
// what it reads against the bounds above.
type walker struct {
	fsys    fs.FS
	t       *tree
	dirs    int
	entries int
	bytes   int64
	extents map[int64]string // a directory's first record block → its path
}

type walkDir struct {
	path  string // absolute: "/", "/boot/grub"
	depth int
}

func (w *walker) run() error {
	if fi, err := fs.Stat(w.fsys, "."); err == nil {
		w.note(fi, "/")
	} else if isCancel(err) {
		return err
	}
	queue := []walkDir{{"/", 0}}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if w.dirs++; w.dirs > maxScanDirs {
			return malformed("more than %d directories within %d levels (a boot ISO has hundreds at most)", maxScanDirs, maxScanDepth)
		}
		es, err := fs.ReadDir(w.fsys, fsPath(d.path))
		if err != nil {
			if d.path == "/" || isCancel(err) {
				return err
			}
			continue // an unreadable corner of an ISO is not fatal to inspection
		}
		sub, err := w.list(d, es)
		if err != nil {
			return err
		}
		queue = append(queue, sub...)
	}
	return nil
}

// list records the files of one directory and returns the subdirectories
// to read next.
func (w *walker) list(d walkDir, es []fs.DirEntry) ([]walkDir, error) {
	if w.entries += len(es); w.entries > maxScanEntries {
		return nil, malformed("more than %d entries within %d levels (a boot ISO has a few thousand)", maxScanEntries, maxScanDepth)
	}
	var sub []walkDir
	for _, e := range es {
		name := e.Name()
		if !validName(name) {
			return nil, malformed("directory %s holds an entry named %q, which no ISO 9660 writer makes", d.path, name)
		}
		p := path.Join(d.path, name)
		if !e.IsDir() {
			w.t.files[p] = true
			w.t.dirs[d.path] = append(w.t.dirs[d.path], name)
			continue
		}
		if skipDirs[name] || d.depth+1 > maxScanDepth {
			continue
		}
		if err := w.enter(e, p); err != nil {
			return nil, err
		}
		sub = append(sub, walkDir{p, d.depth + 1})
	}
	slices.SortFunc(sub, func(a, b walkDir) int { return strings.Compare(a.path, b.path) })
	return sub, nil
}

// enter checks a subdirectory before it is read: its records must be its
// own, and the records read so far must stay within maxScanDirBytes.
func (w *walker) enter(e fs.DirEntry, p string) error {
	fi, err := e.Info()
	if err != nil {
		return nil // read as far as it goes; ReadDir says the rest
	}
	if w.bytes += max(fi.Size(), 0); w.bytes > maxScanDirBytes {
		return malformed("its directories hold more than %d MiB of records (a boot ISO has a few hundred KiB)", maxScanDirBytes>>20)
	}
	if other := w.note(e, p); other != "" {
		if other == "/" || strings.HasPrefix(p, other+"/") {
			return malformed("directory %s has the records of its ancestor %s: a loop", p, other)
		}
		return malformed("directory %s has the records of directory %s", p, other)
	}
	return nil
}

// note remembers where the directory p keeps its records and returns the
// directory that had them before, or "".
func (w *walker) note(v any, p string) string {
	x, ok := v.(extenter)
	if !ok {
		return ""
	}
	at, ok := x.Extent()
	if !ok || at == 0 { // 0: no records at all; ReadDir fails on it
		return ""
	}
	if other, seen := w.extents[at]; seen {
		return other
	}
	w.extents[at] = p
	return ""
}

func fsPath(abs string) string {
	if abs == "/" {
		return "."
	}
	return strings.TrimPrefix(abs, "/")
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// validName: a name of one path element. "" and "." would make a directory
// its own child; ".." its parent; "/" and NUL split or end paths.
func validName(n string) bool {
	return n != "" && n != "." && n != ".." && !strings.ContainsAny(n, "/\x00")
}

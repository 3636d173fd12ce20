package isoimage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"strings"
	"sync"

	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// go-diskfs v1.9.4's iso9660 reader trusts the image. Found while fuzzing
// (testdata/malformed holds one ISO for each): slice bounds panics in
// parsePathTable (a path table size or logical block size that does not fit
// its records; 0xFFFF block size is one way), parseDirEntries and
// parseDirectoryEntryExtensions (directory record and SUSP lengths past
// their buffer) and rockRidgeExtension.parseTimestamps (a TF entry shorter
// than its flags say). Upstream has fixed neighbours of these
// (diskfs/go-diskfs#103, parseDirEntry; #388, SUSP padding) but no issue
// covers these; they need length checks before slicing there. Until then
// every call compose makes into that reader goes through a guard that turns
// a panic into an error naming the ISO, and the first panic fails the whole
// inspection. FuzzISO keeps the boundary honest: a panic outside go-diskfs
// still fails it. The same reader follows Rock Ridge continuation areas
// without end (a CE naming itself spins forever in parseDirEntry), so the
// guard also bounds what one call may read (step).

// guard records the first panic raised by go-diskfs on one ISO.
type guard struct {
	name string
	ctx  context.Context // nil: never cancelled
	mu   sync.Mutex
	err  error
	// reads and bytes count what the current call into go-diskfs has read
	// (cappedISO reports each read): see step.
	reads int
	bytes int64
}

// Bounds on one call into go-diskfs (a ReadDir, an Open, one Read). Its
// parseDirEntry follows Rock Ridge continuation areas (CE) until one does
// not continue: a CE pointing at itself read the same 28 bytes forever,
// deaf to Ctrl-C. A real directory takes one read, plus one per entry
// whose fields overflow into a continuation area.
const (
	maxCallReads = 1 << 16
	maxCallBytes = 256 << 20
)

// step counts one read of n bytes by the current call. Past the bounds,
// or once ctx is cancelled, the read fails, and so does the inspection.
func (g *guard) step(n int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	var err error
	g.reads++
	g.bytes += int64(n)
	switch {
	case g.ctx != nil && g.ctx.Err() != nil:
		err = stopped(g.name, g.ctx.Err())
	case g.reads > maxCallReads || g.bytes > maxCallBytes:
		err = fmt.Errorf("%s: %w: one lookup in it read more than %d times or %d MiB (its Rock Ridge continuation areas loop)",
			g.name, ErrMalformedISO, maxCallReads, maxCallBytes>>20)
	default:
		return nil
	}
	if g.err == nil {
		g.err = err
	}
	return err
}

// do runs fn and turns a panic inside it into a returned (and remembered) error.
// Once ctx is cancelled every call fails with its error, so a long walk
// of a large ISO stops at its next step.
func (g *guard) do(fn func() error) (err error) {
	if g.ctx != nil && g.ctx.Err() != nil {
		err := stopped(g.name, g.ctx.Err())
		g.mu.Lock()
		if g.err == nil {
			g.err = err
		}
		g.mu.Unlock()
		return err
	}
	g.mu.Lock()
	g.reads, g.bytes = 0, 0
	g.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: %w: the ISO 9660 reader failed on it (%v%s)", g.name, ErrMalformedISO, r, panicSite())
			g.mu.Lock()
			if g.err == nil {
				g.err = err
			}
			g.mu.Unlock()
		}
	}()
	return fn()
}

// stopped is the error of an inspection ended by ctx: "interrupted" for
// Ctrl-C, which matches context.Canceled all the same.
func stopped(name string, cause error) error {
	if errors.Is(cause, context.Canceled) {
		return fmt.Errorf("%s: %w", name, interrupted{cause})
	}
	return fmt.Errorf("%s: %w", name, cause)
}

type interrupted struct{ cause error }

func (interrupted) Error() string   { return "interrupted" }
func (e interrupted) Unwrap() error { return e.cause }

// panicSite names the go-diskfs function that panicked, for bug reports.
// It is called from the deferred recover, so the panicking frames are
// still on the stack.
func panicSite() string {
	pc := make([]uintptr, 32)
	frames := runtime.CallersFrames(pc[:runtime.Callers(3, pc)])
	for {
		f, more := frames.Next()
		if strings.Contains(f.Function, "go-diskfs") {
			return " in " + f.Function[strings.LastIndex(f.Function, "/")+1:]
		}
		if !more {
			return ""
		}
	}
}

// record remembers err as the inspection's error, unless one came first,
// and returns it.
func (g *guard) record(err error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err == nil {
		g.err = err
	}
	return err
}

func (g *guard) failed() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// guardFS wraps an fs.FS so that every method, and every method of the files
// it opens, runs under g.
func guardFS(fsys fs.FS, g *guard) fs.FS { return guardedFS{fsys, g} }

type guardedFS struct {
	fsys fs.FS
	g    *guard
}

func (s guardedFS) Open(name string) (f fs.File, err error) {
	err = s.g.do(func() error {
		var err error
		f, err = s.fsys.Open(name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return guardedFile{f, s.g}, nil
}

func (s guardedFS) ReadDir(name string) (es []fs.DirEntry, err error) {
	err = s.g.do(func() error {
		var err error
		es, err = fs.ReadDir(s.fsys, name)
		return err
	})
	return guardEntries(es, s.g), err
}

func (s guardedFS) Stat(name string) (fi fs.FileInfo, err error) {
	err = s.g.do(func() error {
		var err error
		fi, err = fs.Stat(s.fsys, name)
		return err
	})
	if err != nil {
		return nil, err
	}
	return extentInfo{fi}, nil
}

// extentInfo is a FileInfo that says where its records lie (see Extent).
type extentInfo struct{ fs.FileInfo }

func (i extentInfo) Extent() (int64, bool) { return extentOf(i.FileInfo) }

// extentOf is the logical block where go-diskfs found an entry's data: a
// directory's records. bootloader's scan refuses a directory whose records
// are another's, the loop a crafted ISO uses to walk a reader forever.
func extentOf(fi fs.FileInfo) (int64, bool) {
	st, ok := fi.Sys().(*iso9660.StatT)
	if !ok {
		return 0, false
	}
	return int64(st.Location), true
}

// guardedFile is an fs.File (and io.Seeker, fs.ReadDirFile) under a guard.
type guardedFile struct {
	f fs.File
	g *guard
}

func (f guardedFile) Read(b []byte) (n int, err error) {
	if len(b) > maxISORead { // go-diskfs reads len(b) at once; cappedISO would refuse it
		b = b[:maxISORead]
	}
	err = f.g.do(func() error {
		var err error
		n, err = f.f.Read(b)
		return err
	})
	return n, err
}

func (f guardedFile) Seek(off int64, whence int) (n int64, err error) {
	s, ok := f.f.(io.Seeker)
	if !ok {
		return 0, fmt.Errorf("%s: seek not supported", f.g.name)
	}
	err = f.g.do(func() error {
		var err error
		n, err = s.Seek(off, whence)
		return err
	})
	return n, err
}

func (f guardedFile) ReadDir(n int) (es []fs.DirEntry, err error) {
	d, ok := f.f.(fs.ReadDirFile)
	if !ok {
		return nil, fmt.Errorf("%s: not a directory", f.g.name)
	}
	err = f.g.do(func() error {
		var err error
		es, err = d.ReadDir(n)
		return err
	})
	return guardEntries(es, f.g), err
}

func (f guardedFile) Stat() (fi fs.FileInfo, err error) {
	err = f.g.do(func() error {
		var err error
		fi, err = f.f.Stat()
		return err
	})
	if err != nil {
		return nil, err
	}
	return extentInfo{fi}, nil
}

func (f guardedFile) Close() error { return f.g.do(f.f.Close) }

// guardedEntry guards the lazy parts of a directory entry (Info).
type guardedEntry struct {
	fs.DirEntry
	g *guard
}

func (e guardedEntry) Info() (fi fs.FileInfo, err error) {
	err = e.g.do(func() error {
		var err error
		fi, err = e.DirEntry.Info()
		return err
	})
	return fi, err
}

// Extent is the entry's extentOf, for bootloader's scan.
func (e guardedEntry) Extent() (int64, bool) {
	fi, err := e.Info()
	if err != nil {
		return 0, false
	}
	return extentOf(fi)
}

func guardEntries(es []fs.DirEntry, g *guard) []fs.DirEntry {
	for i, e := range es {
		es[i] = guardedEntry{e, g}
	}
	return es
}

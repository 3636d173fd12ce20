package imagefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/internal/stale"
	"github.com/usbkit/compose/config/atomicfile"
	"github.com/usbkit/compose/config/bytesize"
)

// Mode is how Open opens an image path.
type Mode struct {
	// Write is apply's mode: the file is locked for the whole apply and
	// stale temporaries are collected. Without it (plan) the lock is only
	// tested, and what it finds becomes a note.
	Write bool
	// Recreate is a full rewrite: the existing file is only locked, never
	// written; the new image is renamed over it.
	Recreate bool
}

// Held is an image path opened once, so that what was checked is what
// is written: the directory it is in stays open (a new image is created
// and renamed into place relative to it), and an existing file is opened
// without following a symbolic link, compared with what was checked, and
// locked (flock) against other composes writing it. A new image's
// temporary file is locked by its builder, and the rename into place
// refuses to replace a file that appeared meanwhile, so two applies to one
// path never write the same file at once.
type Held struct {
	path     string // as given
	dir      *os.File
	dirID    fileID
	dirPath  string   // the directory, resolved (see splitPath)
	dirShown string   // the directory as the path gives it, for messages
	name     string   // the base name in dir
	f        *os.File // the file the path names, locked; nil until there is one
	id       fileID
	prev     []*os.File // files a commit replaced: locked until close
	// tmp is the locked temporary file a new image is built in (tmpName in
	// dir), until commit renames it into place.
	tmp     *os.File
	tmpName string
	// notes are for plan: another process writing the image, temporaries
	// killed applies left.
	notes  []string
	writer int // plan: the process holding the file's lock, when known
}

// File is the file the path names, opened and locked; nil for a new image.
func (h *Held) File() *os.File { return h.f }

// Temp is the locked temporary file a new image is built in, nil once
// Commit renamed it into place (CreateTemp makes another).
func (h *Held) Temp() *os.File { return h.tmp }

// DirPath is the image's directory, resolved.
func (h *Held) DirPath() string { return h.dirPath }

// Notes are for plan: another process writing the image, temporaries
// killed applies left.
func (h *Held) Notes() []string { return h.notes }

// Open opens path's directory and the file there, if any, and checks
// it is a regular file that nobody else is writing and that may be
// replaced (refuse, then the checks every caller gets: see refuse).
func Open(path string, mode Mode, refuse func(*Held) string) (*Held, error) {
	dirPath, name := splitPath(path)
	switch name {
	case "":
		return nil, &RefusedImageError{Path: path, Reason: "it ends in a path separator, so it names a directory, not a file", Outcome: NotStarted}
	case ".", "..":
		return nil, &RefusedImageError{Path: path, Reason: "it is a directory", Outcome: NotStarted}
	}
	dir, err := openDir(dirPath)
	if err != nil {
		return nil, imageDirError(path, dirPath, err)
	}
	// Kept resolved (no symbolic link, no ".."): the temporaries beside
	// the image are found by joining names to it, which cleans lexically.
	h := &Held{path: path, dir: dir, dirPath: absPath(dirPath), dirShown: dirPath, name: name}
	if h.dirID, _, err = idOfFile(dir); err == nil {
		err = h.open(mode)
	}
	if err == nil {
		why := ""
		if refuse != nil {
			why = refuse(h)
		}
		if why == "" {
			why = h.refuse()
		}
		if why == "" && !mode.Recreate {
			why = h.mountedLoop()
		}
		if why != "" {
			err = h.refused(why)
		}
	}
	if err == nil && mode.Write {
		err = h.prepareWrite(mode)
	}
	if err != nil {
		h.Close()
		return nil, err
	}
	if !mode.Write {
		h.notes = append(h.notes, h.builders(true)...)
		h.notes = append(h.notes, h.leftovers()...)
	}
	return h, nil
}

// open opens the file the path names, if there is one, and locks it; it
// starts again when the name changes under it.
func (h *Held) open(mode Mode) error {
	flag := os.O_RDONLY
	if mode.Write && !mode.Recreate {
		flag = os.O_RDWR // converged in place
	}
	var err error
	for range 5 {
		var done bool
		if done, err = h.openOnce(flag, mode.Write); done {
			return err
		}
	}
	if err == nil {
		err = errors.New("it was replaced each time")
	}
	return fmt.Errorf("%s keeps changing while it is opened: %w", h.path, err)
}

// beside names a file in the image's directory for messages, as the
// image path given names its directory.
func (h *Held) beside(name string) string {
	if h.dirShown == "." {
		return name
	}
	return strings.TrimSuffix(h.dirShown, string(filepath.Separator)) + string(filepath.Separator) + name
}

// splitPath splits an image path at its last separator without cleaning
// it: in "link/../kit.img" the kernel resolves ".." from where the link
// leads, so the file is kit.img in the link target's parent, which is
// what every other tool writes; filepath.Clean made it ./kit.img, another
// file (found by the recheck pass).
func splitPath(p string) (dir, name string) {
	vol := filepath.VolumeName(p)
	rest := p[len(vol):]
	i := strings.LastIndexAny(rest, "/"+string(filepath.Separator))
	switch {
	case i < 0:
		return vol + ".", rest
	case strings.TrimRight(rest[:i], "/"+string(filepath.Separator)) == "":
		return vol + rest[:i+1], rest[i+1:] // the root
	}
	return vol + rest[:i], rest[i+1:]
}

// openOnce is one attempt of open; done is false when the path changed
// between the check and the open, or before the lock was taken.
func (h *Held) openOnce(flag int, write bool) (done bool, err error) {
	id, kind, err := statAt(h.dir, h.name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, nil
	case err != nil:
		return true, err
	case !kind.IsRegular():
		return true, h.refused("it exists and is " + describeKind(kind) + ", not a regular file")
	}
	f, err := openAt(h.dir, h.name, h.path, flag)
	if err != nil {
		if now, _, serr := statAt(h.dir, h.name); serr == nil && now.same(id) {
			return true, err // the file checked: the error is its own (permissions…)
		}
		return false, err // a symbolic link or directory swapped in: checked again
	}
	fid, fkind, err := idOfFile(f)
	if err != nil || !fkind.IsRegular() || !fid.same(id) {
		f.Close()
		return false, err
	}
	if err := tryLock(f, write); errors.Is(err, errLocked) {
		if write {
			f.Close()
			return true, h.busy(lockedBy(fid))
		}
		h.writer, _ = lockHolder(fid)
		h.notes = append(h.notes[:0], fmt.Sprintf("%s is being written by another process%s: this plan read it while it changes", h.path, holder(h.writer)))
	} else if err != nil {
		f.Close()
		return true, fmt.Errorf("locking %s: %w", h.path, err)
	}
	if !write {
		unlock(f) // plan only looks
	}
	// The lock must be on the file the path names now, not on one a
	// finished apply just renamed a new image over.
	if now, _, err := statAt(h.dir, h.name); err != nil || !now.same(fid) {
		f.Close()
		return false, err
	}
	h.f, h.id = f, fid
	return true, nil
}

// prepareWrite collects the temporaries of killed applies and, unless the
// file is converged in place, creates and locks the temporary file the new
// image is built in, right away: it is what tells a second apply of the
// same path, from its start, that this one is building it.
func (h *Held) prepareWrite(mode Mode) error {
	stale.Collect(h.dirPath, h.tempPrefix(), "apply", ".tmp")
	if h.f != nil && !mode.Recreate {
		return nil // converged in place: nothing is created beside it
	}
	if b := h.builders(false); len(b) > 0 {
		return h.busy(b[0])
	}
	if err := h.CreateTemp(); err != nil {
		return err
	}
	// Two applies that started at once both see the other's temporary:
	// both stop, and neither has written anything.
	if b := h.builders(false); len(b) > 0 {
		return h.busy(b[0])
	}
	return nil
}

// ImageDirError says why an image cannot be created in its directory; it
// matches ErrImageDir.
type ImageDirError struct {
	Path, Dir string
	Err       error
}

func (e *ImageDirError) Error() string {
	why := e.Err.Error()
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		why = "does not exist"
	case errors.Is(e.Err, syscall.ENOTDIR):
		why = "is not a directory"
	case errors.Is(e.Err, syscall.EROFS):
		why = "is on a read-only file system"
	case errors.Is(e.Err, fs.ErrPermission):
		why = "cannot be written (permission denied)"
	}
	return fmt.Sprintf("cannot write the image to %s: the directory %s %s; %s", e.Path, e.Dir, why, NotStarted)
}

// Is makes errors.Is(err, ErrImageDir) true.
func (e *ImageDirError) Is(target error) bool { return target == ErrImageDir }

func imageDirError(path, dir string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &ImageDirError{Path: path, Dir: dir, Err: err}
}

func (h *Held) tempPrefix() string { return "." + h.name + "." }

// builders describes the live applies building a new image for this path
// (their temporary file is locked); as plan notes when note is set.
func (h *Held) builders(note bool) []string {
	var out []string
	for _, e := range stale.List(h.dirPath, h.tempPrefix(), "apply", ".tmp") {
		if e.Gone || (note && e.PID == h.writer) {
			continue // a writer plan noted already
		}
		f, err := openAt(h.dir, filepath.Base(e.Path), e.Path, os.O_RDONLY)
		if err != nil {
			continue
		}
		locked := errors.Is(tryLock(f, false), errLocked)
		f.Close()
		switch {
		case !locked:
		case note:
			out = append(out, fmt.Sprintf("another process%s is building a new image for %s: this plan may be out of date when it finishes", holder(e.PID), h.path))
		default:
			out = append(out, "another process"+holder(e.PID)+" is building a new image for it")
		}
	}
	return out
}

// leftovers notes, for plan, the temporaries killed applies left beside
// the image; the next apply removes them.
func (h *Held) leftovers() []string {
	var out []string
	for _, e := range stale.List(h.dirPath, h.tempPrefix(), "apply", ".tmp") {
		if !e.Gone {
			continue
		}
		size := ""
		if fi, err := os.Lstat(e.Path); err == nil {
			size = " (" + bytesize.Format(fi.Size()) + ")"
		}
		out = append(out, fmt.Sprintf("%s%s was left by a killed apply; the next apply removes it", h.beside(filepath.Base(e.Path)), size))
	}
	return out
}

// lockedBy says who holds the lock on the file id: "another process is
// writing it (PID 4242: compose apply …)", or reading it when the lock is
// shared (compose verify, compose test).
func lockedBy(id fileID) string {
	pid, shared := lockHolder(id)
	if shared {
		return "another process is reading it" + holder(pid)
	}
	return "another process is writing it" + holder(pid)
}

// BusyError says that a target a reader (verify, test) needs is being
// written by another process; it matches ErrTargetBusy and ErrUnsafeTarget.
type BusyError struct {
	Path string
	Why  string // "another process is writing it (PID …)"
	Verb string // what the reader does: "verify"
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%s: %s; %s it when that has finished (what it reads now may be half changed)", e.Path, e.Why, e.Verb)
}

// Is makes errors.Is match ErrTargetBusy and ErrUnsafeTarget.
func (e *BusyError) Is(target error) bool {
	return target == ErrTargetBusy || target == device.ErrUnsafeTarget
}

// OpenReading opens path for a reader that must not see an apply change
// it (verify, test; verb names it): an image file is locked shared for as
// long as it stays open, which an apply's exclusive lock excludes either
// way round. Other files (devices) are opened unlocked.
func OpenReading(path, verb string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	id, kind, err := idOfFile(f)
	if err != nil || !kind.IsRegular() {
		return f, nil
	}
	switch err := tryLock(f, false); {
	case errors.Is(err, errLocked):
		f.Close()
		return nil, &BusyError{Path: path, Why: lockedBy(id), Verb: verb}
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

// holder describes the process holding a lock: " (PID 4242: compose apply
// --image kit.img)", or "" when unknown.
func holder(pid int) string {
	if pid <= 0 {
		return ""
	}
	if cmd := commandOf(pid); cmd != "" {
		return " (PID " + strconv.Itoa(pid) + ": " + cmd + ")"
	}
	return " (PID " + strconv.Itoa(pid) + ")"
}

func (h *Held) refused(why string) error {
	return &RefusedImageError{Path: h.path, Reason: why, Outcome: NotStarted}
}

func (h *Held) busy(why string) error {
	return &RefusedImageError{Path: h.path, Reason: why + "; run again when it has finished", Busy: true, Outcome: NotStarted}
}

// is reports whether path names the held image: the same file when both
// exist, else the same name in the same directory.
func (h *Held) Is(path string) bool {
	if h.f != nil {
		if id, err := idOfPath(path); err == nil {
			return id.same(h.id)
		}
	}
	dirID, err := idOfPath(filepath.Dir(path))
	return err == nil && dirID.same(h.dirID) && filepath.Base(path) == h.name
}

// stillThere checks that the path still leads to what h holds: the same
// directory, and in it the same file (none, for a new image).
func (h *Held) StillThere() error {
	if id, err := idOfPath(h.dirPath); err != nil || !id.same(h.dirID) {
		return movedError("the directory of " + h.path + " was moved or replaced while apply ran")
	}
	id, _, err := statAt(h.dir, h.name)
	switch {
	case h.f == nil && errors.Is(err, fs.ErrNotExist):
		return nil
	case h.f == nil && err == nil:
		return &RefusedImageError{Path: h.path, Reason: "a file appeared there while the kit was built (another apply finished first?)",
			Busy: true, Outcome: "the new image was discarded"}
	case h.f != nil && err == nil && id.same(h.id):
		return nil
	}
	return movedError(h.path + " was moved or replaced while apply ran")
}

// movedError says what stillThere found moved; it matches ErrTargetMoved
// without repeating its words.
type movedError string

func (e movedError) Error() string        { return string(e) }
func (e movedError) Is(target error) bool { return target == ErrTargetMoved }

// createTemp creates and locks the temporary file a new image is built in,
// beside the path, named for this process (stale.Name) so that one a
// SIGKILL leaves is collected by the next apply.
func (h *Held) CreateTemp() error {
	for range 100 {
		name := stale.Name(h.tempPrefix(), "apply", ".tmp")
		f, err := createAt(h.dir, name, h.beside(name))
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return imageDirError(h.path, h.dirPath, err)
		}
		h.tmp, h.tmpName = f, name
		if err := tryLock(f, true); err != nil {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		return nil
	}
	return fmt.Errorf("creating image: no free temporary name beside %s", h.path)
}

// dropTemp removes the temporary file.
func (h *Held) DropTemp() {
	if h.tmp != nil {
		h.tmp.Close()
		unlinkAt(h.dir, h.tmpName)
		h.tmp = nil
	}
}

// commit makes the temporary image durable and renames it into place in
// the directory h holds, over the file h checked (keeping its mode) or,
// for a new image, only if no file appeared meanwhile. h then holds the
// new file.
func (h *Held) Commit() error {
	var replaced fs.FileInfo // config/atomicfile's mode rule, for the file held open
	if h.f != nil {
		replaced, _ = h.f.Stat()
	}
	if err := h.tmp.Chmod(atomicfile.ModeOf(replaced)); err != nil {
		return fmt.Errorf("setting the image's mode: %w", err)
	}
	if err := h.tmp.Sync(); err != nil {
		return fmt.Errorf("syncing image: %w", err)
	}
	if err := h.StillThere(); errors.Is(err, ErrTargetMoved) {
		return fmt.Errorf("%w; the new image was discarded", err)
	} else if err != nil {
		return err
	}
	err := renameAt(h.dir, h.tmpName, h.name, h.f == nil)
	if errors.Is(err, fs.ErrExist) {
		return &RefusedImageError{Path: h.path, Reason: "a file appeared there while the kit was built (another apply finished first?)",
			Busy: true, Outcome: "the new image was discarded"}
	}
	if err != nil {
		return fmt.Errorf("renaming the image into place: %w", err)
	}
	h.dir.Sync() // the rename's durability; some file systems refuse it
	if h.f != nil {
		h.prev = append(h.prev, h.f)
	}
	h.f, h.tmp = h.tmp, nil
	h.id, _, _ = idOfFile(h.f)
	return nil
}

// close releases the locks and the directory, and removes an uncommitted
// temporary file.
func (h *Held) Close() {
	if h == nil {
		return
	}
	h.DropTemp()
	for _, f := range append(h.prev, h.f) {
		if f != nil {
			f.Close()
		}
	}
	h.prev, h.f = nil, nil
	if h.dir != nil {
		h.dir.Close()
		h.dir = nil
	}
}

// errLocked is tryLock's answer when another process holds the lock.
var errLocked = errors.New("locked by another process")

// Package atomicfile writes a file so that a crash leaves either what was
// there before or the whole new file, never a part of it: the data go to a
// temporary sibling, which gets its mode, is synced, and is renamed over
// the name; then the directory is synced, so that the rename survives a
// crash too. Every file compose writes in place of another (the lock, the
// starter manifest, an image) goes through here, under one mode rule: a
// file replaced keeps its permission bits, a new one is 0644 (world-
// readable: a manifest, a lock or an image holds nothing secret).
//
// It imports nothing of the module, so every package may use it.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// NewMode is the mode of a file that replaces none.
const NewMode fs.FileMode = 0o644

// ModeOf is the mode rule: the permission bits of the file replaced
// (nil: none), else NewMode.
func ModeOf(replaced fs.FileInfo) fs.FileMode {
	if replaced == nil {
		return NewMode
	}
	return replaced.Mode().Perm()
}

// CreateTemp creates the temporary sibling of path that Commit renames
// over it; pattern is os.CreateTemp's.
func CreateTemp(path, pattern string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(path), pattern)
}

// Commit gives tmp (made by CreateTemp, and written) the mode the rule
// says for path, syncs and closes it, renames it over path and syncs the
// directory. tmp is closed whatever happens; on error the caller removes
// it and path is as it was (unless only the directory's sync failed).
func Commit(tmp *os.File, path string) error {
	var replaced fs.FileInfo
	if fi, err := os.Stat(path); err == nil {
		replaced = fi
	}
	if err := finish(tmp, ModeOf(replaced)); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// finish sets tmp's mode, syncs it and closes it.
func finish(tmp *os.File, mode fs.FileMode) error {
	err := tmp.Chmod(mode)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	return err
}

// Write writes data to path, replacing what is there.
func Write(path string, data []byte) error {
	return write(path, data, false)
}

// Create writes data to path, which must not exist: if it does, even when
// it appears while data is written, it is left alone and the error is
// fs.ErrExist.
func Create(path string, data []byte) error {
	return write(path, data, true)
}

func write(path string, data []byte, create bool) (err error) {
	tmp, err := CreateTemp(path, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if !create {
		return Commit(tmp, path)
	}
	if err := finish(tmp, NewMode); err != nil {
		return err
	}
	return link(tmp.Name(), path)
}

// link gives tmp the name path only if path does not exist: a hard link
// fails rather than replace. A file system without hard links (FAT) gets
// a check, then a rename.
func link(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
		os.Remove(tmp)
		return SyncDir(filepath.Dir(path))
	case errors.Is(err, fs.ErrExist):
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	if _, serr := os.Lstat(path); serr == nil {
		return &fs.PathError{Op: "create", Path: path, Err: fs.ErrExist}
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes a rename in dir durable. A file system that cannot sync a
// directory (EINVAL) is no error: it has nothing better to offer.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // a directory cannot be opened for syncing there
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

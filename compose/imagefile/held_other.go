//go:build !unix

package imagefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// fileID is a file's identity, as os.SameFile compares it.
type fileID struct{ fi fs.FileInfo }

func (a fileID) same(b fileID) bool { return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi) }

func idOfPath(path string) (fileID, error) {
	fi, err := os.Stat(path)
	return fileID{fi}, err
}

func idOfFile(f *os.File) (fileID, fs.FileMode, error) {
	fi, err := f.Stat()
	if err != nil {
		return fileID{}, 0, err
	}
	return fileID{fi}, fi.Mode().Type(), nil
}

// Without *at calls the directory is named by its path: what was checked
// is compared again before use, but not held.
func statAt(dir *os.File, name string) (fileID, fs.FileMode, error) {
	fi, err := os.Lstat(filepath.Join(dir.Name(), name))
	if err != nil {
		return fileID{}, 0, err
	}
	return fileID{fi}, fi.Mode().Type(), nil
}

func openDir(path string) (*os.File, error) {
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err := d.Stat(); err != nil || !fi.IsDir() {
		d.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: errors.New("not a directory")}
	}
	return d, nil
}

func openAt(dir *os.File, name, shown string, flag int) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir.Name(), name), flag, 0)
}

func createAt(dir *os.File, name, shown string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir.Name(), name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
}

func unlinkAt(dir *os.File, name string) error { return os.Remove(filepath.Join(dir.Name(), name)) }

func renameAt(dir *os.File, from, to string, noReplace bool) error {
	if noReplace {
		if _, err := os.Lstat(filepath.Join(dir.Name(), to)); err == nil {
			return fs.ErrExist
		}
	}
	return os.Rename(filepath.Join(dir.Name(), from), filepath.Join(dir.Name(), to))
}

// No advisory locks here: two applies to one image are not kept apart.
func tryLock(*os.File, bool) error { return nil }
func unlock(*os.File)              {}

func lockHolder(fileID) (int, bool) { return 0, false }
func commandOf(int) string          { return "" }

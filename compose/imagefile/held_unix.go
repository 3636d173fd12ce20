//go:build unix

package imagefile

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// fileID is a file's identity: its device and inode.
type fileID struct{ dev, ino uint64 }

func (a fileID) same(b fileID) bool { return a == b }

func idOfStat(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), uint64(st.Ino)} }

// modeOf turns a stat mode into fs.FileMode's type bits.
func modeOf(m uint32) fs.FileMode {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return 0
}

// idOfPath is the identity of the file path leads to (links followed).
func idOfPath(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return idOfStat(&st), nil
}

func idOfFile(f *os.File) (fileID, fs.FileMode, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, 0, err
	}
	return idOfStat(&st), modeOf(uint32(st.Mode)), nil
}

// statAt is lstat of name in dir.
func statAt(dir *os.File, name string) (fileID, fs.FileMode, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fileID{}, 0, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return idOfStat(&st), modeOf(uint32(st.Mode)), nil
}

func openDir(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// openAt opens name in dir without following a symbolic link and without
// blocking on a FIFO swapped in; shown is its name in messages.
func openAt(dir *os.File, name, shown string, flag int) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: shown, Err: err}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: shown, Err: err}
	}
	return os.NewFile(uintptr(fd), shown), nil
}

// createAt creates name in dir, failing when it exists.
func createAt(dir *os.File, name, shown string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: shown, Err: err}
	}
	return os.NewFile(uintptr(fd), shown), nil
}

func unlinkAt(dir *os.File, name string) error { return unix.Unlinkat(int(dir.Fd()), name, 0) }

// renameAt renames from to to within dir; with noReplace it fails with an
// error matching fs.ErrExist when to exists.
func renameAt(dir *os.File, from, to string, noReplace bool) error {
	fd := int(dir.Fd())
	if noReplace {
		err := renameNoReplace(fd, from, to)
		if !errors.Is(err, errors.ErrUnsupported) {
			return err
		}
		// Not atomic here, but the window is the gap between two calls.
		if _, _, err := statAt(dir, to); err == nil {
			return fs.ErrExist
		}
	}
	return unix.Renameat(fd, from, fd, to)
}

// tryLock takes f's advisory lock (flock) without waiting: errLocked when
// another process holds it.
func tryLock(f *os.File, exclusive bool) error {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return errLocked
	}
	if errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) {
		return nil // a file system without locks: as before locks existed
	}
	return err
}

func unlock(f *os.File) { unix.Flock(int(f.Fd()), unix.LOCK_UN) }

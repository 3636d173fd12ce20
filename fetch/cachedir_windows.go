package fetch

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/windows"
)

const oNoFollow = 0 // Lstat checks stand in; Windows symlinks need privileges to create

// makeCacheDir creates dir; ownership is not checked on Windows (ACLs, not
// modes, decide there).
func makeCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the cache directory: %w", err)
	}
	return nil
}

// checkCacheDirs checks nothing on this system (see makeCacheDir).
func checkCacheDirs(root, alg string) error { return nil }

// tryLock takes an exclusive lock on the first byte without waiting.
func tryLock(fh *os.File) (busy bool, err error) {
	ol := new(windows.Overlapped)
	err = windows.LockFileEx(windows.Handle(fh.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return true, nil
	}
	return false, err
}

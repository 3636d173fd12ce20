//go:build unix

package fetch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

const oNoFollow = syscall.O_NOFOLLOW

// makeCacheDir creates dir (0755) or checks the one that is there: a
// directory, not a symlink, owned by the effective user and writable by
// nobody else. Anyone else who can write to it could plant a symlink or
// swap a verified file under a digest's name.
func makeCacheDir(dir string) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating the cache directory: %w", err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
			return err
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("cache directory: %w", err)
	}
	return checkCacheDir(dir, fi)
}

// checkCacheDirs applies makeCacheDir's rules to the cache directory and,
// when it exists, its <alg> directory, without creating either. Every use
// of the cache runs it, hits included: either directory may have been
// chmodded or replaced since New checked the root.
func checkCacheDirs(root, alg string) error {
	for _, dir := range []string{root, filepath.Join(root, alg)} {
		fi, err := os.Lstat(dir)
		if dir != root && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("cache directory: %w", err)
		}
		if err := checkCacheDir(dir, fi); err != nil {
			return err
		}
	}
	return nil
}

func checkCacheDir(dir string, fi os.FileInfo) error {
	if fi.Mode()&os.ModeSymlink != 0 {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return checkCacheDir(dir, fi) // a symlinked cache root is the user's choice; its target is checked
		}
	}
	if !fi.IsDir() {
		return fmt.Errorf("cache directory %s is not a directory", dir)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return fmt.Errorf("refusing cache directory %s: it is owned by uid %d, not by you (uid %d), and its owner could swap the files in it; use a directory of your own (--cache-dir or COMPOSE_CACHE_DIR)", dir, st.Uid, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("refusing cache directory %s: it is writable by its group or by others (mode %04o), who could plant files in it; run chmod go-w %s", dir, perm, dir)
	}
	return nil
}

// tryLock takes an exclusive flock without waiting; busy when another
// descriptor holds it.
func tryLock(fh *os.File) (busy bool, err error) {
	err = syscall.Flock(int(fh.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

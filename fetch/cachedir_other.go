//go:build !unix && !windows

package fetch

import (
	"fmt"
	"os"
)

const oNoFollow = 0

// makeCacheDir creates dir; ownership is not checked on this system.
func makeCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the cache directory: %w", err)
	}
	return nil
}

// checkCacheDirs checks nothing on this system (see makeCacheDir).
func checkCacheDirs(root, alg string) error { return nil }

// tryLock does not lock on this system: one process per cache.
func tryLock(*os.File) (bool, error) { return false, nil }

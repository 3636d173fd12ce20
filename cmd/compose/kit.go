package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// fetchFlags are the flags of every verb that reads the cache or downloads.
type fetchFlags struct {
	cacheDir string
	jobs     int
	offline  bool
	idle     time.Duration
}

func (ff *fetchFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&ff.cacheDir, "cache-dir", "", "ISO cache `dir` (default $COMPOSE_CACHE_DIR, else the user cache dir)/compose")
	f.IntVar(&ff.jobs, "jobs", fetch.DefaultJobs, "parallel downloads")
	f.BoolVar(&ff.offline, "offline", false, "use only the cache; fail on anything missing")
	f.DurationVar(&ff.idle, "idle-timeout", fetch.DefaultIdleTimeout, "give up on a download attempt after this long without a byte (it is then retried)")
}

// fetcher builds a Fetcher whose events go to the progress display.
func (a *app) fetcher(ff *fetchFlags, events func(fetch.Event)) (*fetch.Fetcher, error) {
	if ff.jobs < 1 {
		return nil, usageError{fmt.Errorf("--jobs must be at least 1, got %d", ff.jobs)}
	}
	if ff.idle <= 0 {
		return nil, usageError{fmt.Errorf("--idle-timeout must be positive, got %s", ff.idle)}
	}
	return fetch.New(fetch.Options{CacheDir: ff.cacheDir, Jobs: ff.jobs, Offline: ff.offline, IdleTimeout: ff.idle, Events: events})
}

// errNoLock is returned by verbs that need a lock file when there is none.
var errNoLock = errors.New("no lock file")

// loadKit loads the manifest and the lock beside it. A lock that no longer
// matches the manifest is an error (ErrStaleLock); a missing one gives a nil
// lock and no error.
func (a *app) loadKit() (*config.Manifest, *config.Lock, error) {
	m, err := config.Load(a.file)
	if err != nil {
		return nil, nil, err
	}
	m.Strict = m.Strict || a.strict
	l, err := config.LoadLock(lockPath(m))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if err := l.Check(m); err != nil {
		return nil, nil, err
	}
	return m, l, nil
}

// needLock is loadKit for verbs that cannot run without a lock.
func (a *app) needLock() (*config.Manifest, *config.Lock, error) {
	m, l, err := a.loadKit()
	if err == nil && l == nil {
		err = fmt.Errorf("%s: %w", lockPath(m), errNoLock)
	}
	return m, l, err
}

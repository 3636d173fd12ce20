package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/fetch"
)

// fetchFlags are the flags of every verb that reads the cache or downloads.
type fetchFlags struct {
	cacheDir string
	jobs     int
	offline  bool
	idle     time.Duration
	rehash   bool // not a flag: set by verbs that vouch for the cache
	noFetch  bool // not a flag: set by plan, which downloads no ISO but reads checksum lists
}

func (ff *fetchFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&ff.cacheDir, "cache-dir", "", "ISO cache `dir` (default $COMPOSE_CACHE_DIR, else the user cache dir)/compose")
	f.IntVar(&ff.jobs, "jobs", fetch.DefaultJobs, "parallel downloads")
	f.BoolVar(&ff.offline, "offline", false, "use only the cache; fail on anything missing")
	f.DurationVar(&ff.idle, "idle-timeout", fetch.DefaultIdleTimeout, "give up on a download attempt after this long without a byte (it is then retried)")
}

// loadKit loads the manifest named by -f with its lock; downloads report
// to disp (nil: nowhere).
func (a *app) loadKit(ff *fetchFlags, disp *display) (*compose.Kit, error) {
	if ff.jobs < 1 {
		return nil, usageError{fmt.Errorf("--jobs must be at least 1, got %d", ff.jobs)}
	}
	if ff.idle <= 0 {
		return nil, usageError{fmt.Errorf("--idle-timeout must be positive, got %s", ff.idle)}
	}
	opts := fetch.Options{CacheDir: ff.cacheDir, Jobs: ff.jobs, Offline: ff.offline, IdleTimeout: ff.idle, Rehash: ff.rehash, NoDownload: ff.noFetch}
	if disp != nil {
		opts.Events = disp.fetchEvent
	}
	k, err := compose.Load(a.file, compose.Options{Fetch: opts})
	if err != nil {
		return nil, err
	}
	if err := a.checkFrozen(k); err != nil {
		return nil, err
	}
	if a.strict { // --strict: as strict: true in the manifest
		k.Manifest().Strict = true
	}
	a.kit = k
	return k, nil
}

// planned is the ApplyOptions.Planned of apply and test: -v prints the
// plan being executed, and its warnings always show.
func (a *app) planned(p *compose.Plan) {
	if a.verbose && !a.json && !a.quiet {
		_ = a.text(a.stderr, func(w io.Writer) error { return printPlan(w, p, false) })
	}
	for _, w := range p.Warnings {
		a.warn("%s", w)
	}
}

func (a *app) locked(path string) { a.info("wrote %s: commit it with the manifest", path) }

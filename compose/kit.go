package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"io/fs"
	"os"

	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// ErrNoLock is returned by the workflows that need a lock file when the
// manifest has none yet (Kit.Lock writes it).
var ErrNoLock = errors.New("no lock file")

// Options configure a Kit.
type Options struct {
	// Fetch configures the cache and downloads, progress events included.
	Fetch fetch.Options
}

// Kit is a manifest, its lock and the cache its ISOs go through: the unit
// every workflow (lock, fetch, plan, apply, boot test) runs on. A Kit is
// what the CLI's verbs call, one method each; it prints nothing.
type Kit struct {
	m         *config.Manifest
	lock      *config.Lock // nil when there is none, or it is unusable
	lockErr   error        // why lock is unusable: stale, invalid, another manifest's
	lockPath  string
	fetchOpts fetch.Options
	f         *fetch.Fetcher // made on first use: validate touches no cache
	// fetched holds what this run downloaded already (the lock downloads
	// an ISO whose server does not say its size), so Fetch does not fetch
	// it again: one fetch per ISO per run.
	fetched map[string]fetch.Result // by fetchedKey
}

// fetchedKey names a download by ISO and digest (the lock's size was not
// known when it was fetched).
func fetchedKey(s fetch.Source) string { return s.Name + "\x00" + s.Algorithm + ":" + s.Digest }

// Load reads the manifest at file ("-" is standard input) and the lock
// beside it (config.LockPath). An invalid manifest is an error; a lock that
// is missing, invalid, stale or another manifest's is not, until a
// workflow needs it (LockStatus tells which).
func Load(file string, opts Options) (*Kit, error) {
	m, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	k := &Kit{m: m, lockPath: config.LockPath(m), fetchOpts: opts.Fetch}
	k.lock, k.lockErr = loadLock(m, k.lockPath)
	return k, nil
}

// loadLock reads the lock at path and checks it belongs to m and still
// matches it. A missing lock is (nil, nil).
func loadLock(m *config.Manifest, path string) (*config.Lock, error) {
	l, err := config.LoadLock(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err == nil {
		err = l.CheckOwner(m)
	}
	if err == nil {
		err = l.Check(m)
	}
	if err != nil {
		return nil, err
	}
	return l, nil
}

// fetcher opens the cache (creating it) on first use.
func (k *Kit) fetcher() (*fetch.Fetcher, error) {
	if k.f != nil {
		return k.f, nil
	}
	f, err := fetch.New(k.fetchOpts)
	if err != nil {
		return nil, err
	}
	k.f = f
	return f, nil
}

// Manifest is the kit's validated manifest.
func (k *Kit) Manifest() *config.Manifest { return k.m }

// LockPath is where the kit's lock lives.
func (k *Kit) LockPath() string { return k.lockPath }

// LockStatus says whether the kit has a lock that matches its manifest.
type LockStatus string

// Lock states.
const (
	LockAbsent  LockStatus = "absent"
	LockCurrent LockStatus = "current"
	LockStale   LockStatus = "stale"
)

// LockStatus reports the lock's state. A stale lock comes with the
// problems (a *config.StaleLockError); an unreadable, invalid or foreign
// lock is an error.
func (k *Kit) LockStatus() (LockStatus, error) {
	switch {
	case k.lock != nil:
		return LockCurrent, nil
	case k.lockErr == nil:
		return LockAbsent, nil
	case errors.Is(k.lockErr, config.ErrStaleLock):
		return LockStale, k.lockErr
	}
	return "", k.lockErr
}

// pinned returns the current lock, or why there is none.
func (k *Kit) pinned() (*config.Lock, error) {
	if k.lock != nil {
		return k.lock, nil
	}
	if k.lockErr != nil {
		return nil, k.lockErr
	}
	return nil, fmt.Errorf("%s: %w", k.lockPath, ErrNoLock)
}

// LockResult is what Lock did.
type LockResult struct {
	File    string             `json:"file"`
	Changed bool               `json:"changed"` // false: the file already said this
	ISOs    []config.LockedISO `json:"isos"`
}

// Lock pins the ISOs named (none: every ISO) as pin.PinLock does, without
// downloading what it need not, and writes the lock unless it is byte for
// byte what is there; the others keep their entries while these still
// match the manifest. A lock written for another manifest is refused, not
// replaced.
func (k *Kit) Lock(ctx context.Context, names ...string) (*LockResult, error) {
	f, old, err := k.repinning()
	if err != nil {
		return nil, err
	}
	l, res, err := pin.PinLock(ctx, k.m, f, old, names)
	if err != nil {
		return nil, err
	}
	k.remember(res)
	changed, err := k.writeLock(l)
	if err != nil {
		return nil, err
	}
	return &LockResult{File: k.lockPath, Changed: changed, ISOs: l.ISOs}, nil
}

// repinning is what Lock and Update start from: the fetcher and the lock
// there is, stale or not (its entries that still match are kept with
// NAMEs, and their versions always by Lock, so a lock never moves a
// {version}). A lock written for another manifest is refused.
func (k *Kit) repinning() (*fetch.Fetcher, *config.Lock, error) {
	if errors.Is(k.lockErr, config.ErrForeignLock) {
		return nil, nil, k.lockErr
	}
	f, err := k.fetcher()
	if err != nil {
		return nil, nil, err
	}
	old := k.lock
	if old == nil {
		old, _ = config.LoadLock(k.lockPath)
	}
	return f, old, nil
}

// writeLock writes l unless the file already holds exactly it, and makes
// it the kit's lock.
func (k *Kit) writeLock(l *config.Lock) (bool, error) {
	l.Manifest = config.ManifestName(k.m)
	old, _ := os.ReadFile(k.lockPath)
	changed := !bytes.Equal(old, l.Marshal())
	if changed {
		if err := config.WriteLock(k.lockPath, l); err != nil {
			return false, err
		}
	}
	k.lock, k.lockErr = l, nil
	return changed, nil
}

// Fetched is one ISO in the cache after Fetch.
type Fetched struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Cached bool   `json:"cached"` // it was there already
	// Warning says that the lock's digest could not be checked against
	// the vendor's checksum list (offline, or the list could not be read).
	Warning string `json:"warning,omitempty"`
}

// Fetch downloads and verifies every pinned ISO into the cache, except
// those this run's Lock fetched already (one fetch per ISO per run). A
// `path:` ISO whose file is gone is refused even when its digest is
// cached, and a lock whose digest is not what the vendor's checksum list
// says is refused first, as plan and apply refuse it
// (checkListedDigests). A failure names the ISO's manifest line
// (*pin.SourceError).
func (k *Kit) Fetch(ctx context.Context) ([]Fetched, error) {
	l, err := k.pinned()
	if err != nil {
		return nil, err
	}
	srcs, err := pin.Sources(k.m, l)
	if err != nil {
		return nil, err
	}
	f, err := k.fetcher()
	if err != nil {
		return nil, err
	}
	if err := pin.CheckPaths(k.m); err != nil {
		return nil, err
	}
	unchecked, err := pin.ListedDigests(ctx, k.m, l, f)
	if err != nil {
		return nil, err
	}
	if err := pin.CheckLockedSizes(ctx, l, f, srcs); err != nil {
		return nil, err
	}
	var todo []fetch.Source
	for _, s := range srcs {
		if _, done := k.fetched[fetchedKey(s)]; !done {
			todo = append(todo, s)
		}
	}
	res, err := f.FetchAll(ctx, todo)
	if err != nil {
		return nil, pin.LockedSizeErrors(k.m, l, res)
	}
	out := make([]Fetched, len(srcs))
	for i, s := range srcs {
		r, done := k.fetched[fetchedKey(s)]
		if !done {
			r, res = res[0], res[1:]
		}
		out[i] = Fetched{Name: s.Name, Path: r.Path, Cached: r.Cached, Warning: unchecked[s.Name]}
	}
	return out, nil
}

// Plan computes what Apply would do to build image (a path, or "" when
// not known yet) from what the cache holds now. It downloads and writes
// nothing. An image path is refused as Apply refuses it and read through
// the one file it opened; the plan warns when another process is writing
// it or a killed apply left a temporary file beside it. With
// PlanOptions.Device the path is a device, read as it is.
func (k *Kit) Plan(ctx context.Context, image string, opts ...PlanOptions) (*Plan, error) {
	l, err := k.pinned()
	if err != nil {
		return nil, err
	}
	f, err := k.fetcher()
	if err != nil {
		return nil, err
	}
	var o PlanOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.held != nil || o.device != nil || o.Device {
		return MakePlan(ctx, k.m, l, f, image, o)
	}
	h, err := k.openImage(image, imagefile.Mode{Recreate: o.Recreate})
	if err != nil {
		return nil, err
	}
	defer h.Close()
	o.held = h
	p, err := MakePlan(ctx, k.m, l, f, image, o)
	if p != nil && h != nil {
		p.Warnings = append(p.Warnings, h.Notes()...)
	}
	return p, err
}

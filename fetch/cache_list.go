package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CacheEntry is one file in the cache: a verified entry <alg>/<digest>,
// or a .partial download (interrupted, or running when Busy).
type CacheEntry struct {
	Algorithm string    `json:"algorithm"`
	Digest    string    `json:"digest"`
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	Modified  time.Time `json:"modified"` // when its last byte was written: for an entry, when it was downloaded
	Partial   bool      `json:"partial"`
	// Busy is true for a .partial another process (or this one) holds
	// locked: a download running now. Prune never touches it.
	Busy bool `json:"busy,omitempty"`
}

// List returns the cache's entries and partial downloads, sorted by
// algorithm and digest. Files that are not entries (another name, a
// symlink, a directory) are left out: the cache never made them.
func (f *Fetcher) List() ([]CacheEntry, error) {
	var out []CacheEntry
	for _, alg := range []string{"sha256", "sha512"} {
		if err := checkCacheDirs(f.opts.CacheDir, alg); err != nil {
			return nil, err
		}
		dir := filepath.Join(f.opts.CacheDir, alg)
		des, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("listing the cache: %w", err)
		}
		for _, de := range des {
			if e, ok := f.cacheEntry(alg, de); ok {
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func (f *Fetcher) cacheEntry(alg string, de os.DirEntry) (CacheEntry, bool) {
	digest, partial := strings.CutSuffix(de.Name(), partialSuffix)
	if !de.Type().IsRegular() || checkDigest(alg, digest) != nil {
		return CacheEntry{}, false
	}
	fi, err := de.Info()
	if err != nil {
		return CacheEntry{}, false
	}
	e := CacheEntry{Algorithm: alg, Digest: digest, Path: filepath.Join(f.opts.CacheDir, alg, de.Name()),
		Size: fi.Size(), Modified: fi.ModTime(), Partial: partial}
	if partial {
		e.Busy = busy(e.Path)
	}
	return e, true
}

// busy reports whether another descriptor holds the lock of the .partial
// at path, without waiting.
func busy(path string) bool {
	fh, err := os.OpenFile(path, os.O_RDWR|oNoFollow, 0)
	if err != nil {
		return false
	}
	defer fh.Close()
	held, err := tryLock(fh)
	return err == nil && held
}

// PruneOptions say which entries Prune removes: those that every given
// rule selects. At least one rule must be set.
type PruneOptions struct {
	// OlderThan selects entries last written this long ago or longer.
	OlderThan time.Duration
	// Keep, when set, selects the entries it returns false for: the
	// caller's list of what is still referenced (a lock's digests).
	Keep func(algorithm, digest string) bool
	// DryRun reports what would be removed and removes nothing.
	DryRun bool
	// Now is the time OlderThan counts from (default time.Now()).
	Now time.Time
}

// ErrNoPruneRule is Prune's answer to options without a rule: pruning
// everything is a deletion of the whole cache, asked for by removing it.
var ErrNoPruneRule = errors.New("no rule says what to prune")

// Prune removes the entries and interrupted partial downloads opts
// selects and returns them, each removal made under the entry's lock as
// every change of an entry's name is (see the package doc): an entry
// another process is downloading, checking or replacing right now is
// skipped, never waited for. A reader that has the file open keeps it; one
// that looks it up afterwards fetches it again.
func (f *Fetcher) Prune(ctx context.Context, opts PruneOptions) ([]CacheEntry, error) {
	if opts.OlderThan <= 0 && opts.Keep == nil {
		return nil, ErrNoPruneRule
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	all, err := f.List()
	if err != nil {
		return nil, err
	}
	removed := []CacheEntry{}
	for _, e := range all {
		if err := ctx.Err(); err != nil {
			return removed, context.Cause(ctx)
		}
		if e.Busy || !opts.selects(e) {
			continue
		}
		if !opts.DryRun {
			ok, err := f.remove(e)
			if err != nil {
				return removed, err
			}
			if !ok {
				continue
			}
		}
		removed = append(removed, e)
	}
	return removed, nil
}

func (o PruneOptions) selects(e CacheEntry) bool {
	if o.OlderThan > 0 && o.Now.Sub(e.Modified) < o.OlderThan {
		return false
	}
	return o.Keep == nil || !o.Keep(e.Algorithm, e.Digest)
}

// remove deletes e under its .partial's lock; false when the lock is
// held (a download or check running) or the file changed since List.
func (f *Fetcher) remove(e CacheEntry) (bool, error) {
	if err := checkCacheDirs(f.opts.CacheDir, e.Algorithm); err != nil {
		return false, err
	}
	lock := f.finalPath(e.Algorithm, e.Digest) + partialSuffix
	fh, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE|oNoFollow, 0o644)
	if err != nil {
		return false, fmt.Errorf("locking %s: %w", lock, err)
	}
	defer fh.Close()
	held, err := tryLock(fh)
	if err != nil || held || !sameFile(fh, lock) {
		return false, err
	}
	// Under the lock: the lock file goes again when it is empty (made
	// just now, or left by an earlier check), or is the entry itself.
	defer func() {
		if lfi, err := fh.Stat(); err == nil && lfi.Size() == 0 {
			os.Remove(lock)
		}
	}()
	fi, err := os.Lstat(e.Path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != e.Size || !fi.ModTime().Equal(e.Modified) {
		return false, nil // gone or replaced since it was listed: not what was selected
	}
	if err := os.Remove(e.Path); err != nil {
		return false, fmt.Errorf("removing %s: %w", e.Path, err)
	}
	return true, nil
}

// CacheSize sums the sizes of entries.
func CacheSize(es []CacheEntry) int64 {
	var n int64
	for _, e := range es {
		n += e.Size
	}
	return n
}

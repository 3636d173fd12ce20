package fetch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/usbkit/compose/config/digest"
	"github.com/usbkit/compose/config/filekind"
)

// ErrBadEntry means a cache entry does not hold what its name promises: it
// is not a regular file (a symlink, say), its size is not the pinned one,
// or its bytes hash to another digest. Fetch downloads it again and
// renames the new file over it; Offline, it removes it and fails with both
// ErrBadEntry and ErrNotCached.
var ErrBadEntry = errors.New("bad cache entry")

// entry checks the cached file for alg:digest without following a symlink:
// "" and nil when there is none, the path when it is a regular file of the
// expected size (size 0: any), ErrBadEntry otherwise, with what Lstat saw
// (for evictIf). A cache directory that breaks the ownership rules
// (checkCacheDirs) is an error of its own.
func (f *Fetcher) entry(alg, digest string, size int64) (string, os.FileInfo, error) {
	if err := checkCacheDirs(f.opts.CacheDir, alg); err != nil {
		return "", nil, err
	}
	p := f.finalPath(alg, digest)
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil, nil
	case err != nil:
		return "", nil, err
	case !fi.Mode().IsRegular():
		return "", fi, fmt.Errorf("%w: %s is %s, not a regular file", ErrBadEntry, p, filekind.Of(fi.Mode()))
	case size > 0 && fi.Size() != size:
		return "", fi, fmt.Errorf("%w: %s is %d bytes, the lock says %d", ErrBadEntry, p, fi.Size(), size)
	}
	return p, fi, nil
}

// Open opens the cached file of src for reading, refusing a symlink, a
// non-regular file or a size other than src.Size (when known) with
// ErrBadEntry, a missing one with ErrNotCached, and any file of a cache
// directory that breaks the ownership rules. It does not hash.
func (f *Fetcher) Open(src Source) (*os.File, error) {
	fh, _, err := f.open(src)
	return fh, err
}

// open is Open that also returns what it found, for evictIf: the open
// file's FileInfo, or nil for a name it could not open (a symlink).
func (f *Fetcher) open(src Source) (*os.File, os.FileInfo, error) {
	if err := f.validate(src); err != nil {
		return nil, nil, err
	}
	if err := checkCacheDirs(f.opts.CacheDir, src.Algorithm); err != nil {
		return nil, nil, err
	}
	p := f.finalPath(src.Algorithm, src.Digest)
	fh, err := os.OpenFile(p, os.O_RDONLY|oNoFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s:%s is %w %s", src.Algorithm, src.Digest, ErrNotCached, f.opts.CacheDir)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w: opening %s: %v", ErrBadEntry, p, err) // ELOOP: a symlink
	}
	fi, err := fh.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: %s is not a regular file", ErrBadEntry, p)
	} else if err == nil && src.Size > 0 && fi.Size() != src.Size {
		err = fmt.Errorf("%w: %s is %d bytes, the lock says %d", ErrBadEntry, p, fi.Size(), src.Size)
	}
	if err != nil {
		fh.Close()
		return nil, fi, err
	}
	return fh, fi, nil
}

// Verify re-hashes the cached file of src. A file that does not match is
// removed (unless another process replaced it meanwhile: evictIf) and
// reported as ErrBadEntry; the next Fetch downloads it again.
func (f *Fetcher) Verify(ctx context.Context, src Source) (string, error) {
	src.normalize()
	p, bad, err := f.hashEntry(ctx, src)
	if errors.Is(err, ErrBadEntry) {
		if eerr := f.evictIf(ctx, src, bad); eerr != nil {
			return "", eerr
		}
		return "", fmt.Errorf("%w; removed it", err)
	}
	return p, err
}

// hashEntry hashes the entry: its path when it matches, else ErrBadEntry with
// the file found bad (nil for a name that could not be opened).
func (f *Fetcher) hashEntry(ctx context.Context, src Source) (string, os.FileInfo, error) {
	fh, fi, err := f.open(src)
	if err != nil {
		return "", fi, err
	}
	defer fh.Close()
	got, err := digestOf(ctx, fh, src.Algorithm)
	if err != nil {
		return "", nil, err
	}
	if got != src.Digest {
		return "", fi, fmt.Errorf("%w: %s hashes to %s:%s", ErrBadEntry, fh.Name(), src.Algorithm, got)
	}
	return fh.Name(), fi, nil
}

// FileDigest hashes the file at path with alg (sha256 or sha512), in
// lower-case hex; cancelling ctx stops it.
func FileDigest(ctx context.Context, path, alg string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	return digestOf(ctx, fh, strings.ToLower(alg))
}

func digestOf(ctx context.Context, fh *os.File, alg string) (string, error) {
	sum, err := digest.Of(ctx, alg, fh, make([]byte, copyBufSize))
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", fh.Name(), err)
	}
	return sum, nil
}

// Refetch fetches src again: for a caller that found, while reading the
// cached file, that it does not verify. Under the entry's lock it hashes
// the entry once more first: another process may have replaced the bad
// file with a good one since the caller read it, and that one is kept and
// returned. A bad file is replaced by the download (a rename over it, so
// that another run opening the entry never finds it missing); offline it
// is removed, and the error is ErrBadEntry and ErrNotCached.
func (f *Fetcher) Refetch(ctx context.Context, src Source) (string, error) {
	src.normalize()
	if err := f.validate(src); err != nil {
		return "", err
	}
	if err := checkCacheDirs(f.opts.CacheDir, src.Algorithm); err != nil {
		return "", fmt.Errorf("fetching %s: %w", src.Name, err)
	}
	good, bad, err := f.recheck(ctx, src)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", src.Name, err)
	}
	if good != "" {
		f.emitCached(src, good)
		return good, nil
	}
	if f.cacheOnly() {
		err := fmt.Errorf("fetching %s: %w: the cached file did not verify and was removed; offline, so it is %w",
			src.Name, ErrBadEntry, ErrNotCached)
		if eerr := f.evictIf(ctx, src, bad); eerr != nil {
			err = fmt.Errorf("fetching %s: removing its bad cache entry: %w", src.Name, eerr)
		}
		f.emit(Event{Name: src.Name, Kind: Failed, Err: err})
		return "", err
	}
	r := f.replace(ctx, src, bad, nil)
	return r.Path, r.Err
}

// recheck hashes src's entry under its lock: the path when it verifies;
// else "" and the file found bad, nil when there is none.
func (f *Fetcher) recheck(ctx context.Context, src Source) (string, os.FileInfo, error) {
	p, err := f.openPartial(ctx, src)
	if err != nil {
		return "", nil, err
	}
	defer p.release()
	good, bad, err := f.hashEntry(ctx, src)
	switch {
	case errors.Is(err, ErrNotCached):
		return "", nil, nil
	case errors.Is(err, ErrBadEntry):
		return "", bad, nil
	}
	return good, nil, err
}

// evictIf removes the entry of src if its name still refers to seen, the
// file found bad (by Lstat, or the descriptor that was hashed). It takes
// the entry's lock, under which every rename into place happens, so a
// good file another process put there meanwhile stays; it waits (saying
// so) while another process downloads the entry.
func (f *Fetcher) evictIf(ctx context.Context, src Source, seen os.FileInfo) error {
	p, err := f.openPartial(ctx, src)
	if err != nil {
		return err
	}
	defer p.release()
	f.evictLocked(src, seen)
	return nil
}

// evictLocked is evictIf for a caller holding the lock. With seen nil (a
// name that could not be opened) only a non-regular file goes. The name is
// removed, not what a symlink points at.
func (f *Fetcher) evictLocked(src Source, seen os.FileInfo) {
	name := f.finalPath(src.Algorithm, src.Digest)
	cur, err := os.Lstat(name)
	switch {
	case err != nil:
	case seen != nil && !os.SameFile(seen, cur):
	case seen == nil && cur.Mode().IsRegular():
	default:
		os.Remove(name)
	}
}

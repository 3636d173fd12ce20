package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/usbkit/compose/config/digest"
	"github.com/usbkit/compose/config/filekind"
)

// ErrBadEntry means a cache entry does not hold what its name promises: it
// is not a regular file (a symlink, say), its size is not the pinned one,
// or its bytes hash to another digest. Fetch removes such an entry and
// downloads it again; Offline, it fails with both ErrBadEntry and
// ErrNotCached.
var ErrBadEntry = errors.New("bad cache entry")

// entry checks the cached file for alg:digest without following a symlink:
// "" and nil when there is none, the path when it is a regular file of the
// expected size (size 0: any), ErrBadEntry otherwise.
func (f *Fetcher) entry(alg, digest string, size int64) (string, error) {
	p := f.finalPath(alg, digest)
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil
	case err != nil:
		return "", err
	case !fi.Mode().IsRegular():
		return "", fmt.Errorf("%w: %s is %s, not a regular file", ErrBadEntry, p, filekind.Of(fi.Mode()))
	case size > 0 && fi.Size() != size:
		return "", fmt.Errorf("%w: %s is %d bytes, the lock says %d", ErrBadEntry, p, fi.Size(), size)
	}
	return p, nil
}

// Open opens the cached file of src for reading, refusing a symlink, a
// non-regular file or a size other than src.Size (when known) with
// ErrBadEntry, and a missing one with ErrNotCached. It does not hash.
func (f *Fetcher) Open(src Source) (*os.File, error) {
	if err := src.validate(); err != nil {
		return nil, err
	}
	p := f.finalPath(src.Algorithm, src.Digest)
	fh, err := os.OpenFile(p, os.O_RDONLY|oNoFollow, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s:%s is %w %s", src.Algorithm, src.Digest, ErrNotCached, f.opts.CacheDir)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: opening %s: %v", ErrBadEntry, p, err) // ELOOP: a symlink
	}
	fi, err := fh.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%w: %s is not a regular file", ErrBadEntry, p)
	} else if err == nil && src.Size > 0 && fi.Size() != src.Size {
		err = fmt.Errorf("%w: %s is %d bytes, the lock says %d", ErrBadEntry, p, fi.Size(), src.Size)
	}
	if err != nil {
		fh.Close()
		return nil, err
	}
	return fh, nil
}

// Verify re-hashes the cached file of src. A file that does not match is
// removed and reported as ErrBadEntry; the next Fetch downloads it again.
func (f *Fetcher) Verify(ctx context.Context, src Source) (string, error) {
	src.normalize()
	fh, err := f.Open(src)
	if err != nil {
		if errors.Is(err, ErrBadEntry) {
			f.evict(src)
		}
		return "", err
	}
	defer fh.Close()
	got, err := digestOf(ctx, fh, src.Algorithm)
	if err != nil {
		return "", err
	}
	if got != src.Digest {
		f.evict(src)
		return "", fmt.Errorf("%w: %s hashes to %s:%s; removed it", ErrBadEntry, fh.Name(), src.Algorithm, got)
	}
	return fh.Name(), nil
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
	h, err := digest.New(alg)
	if err != nil {
		return "", err
	}
	if _, err := io.CopyBuffer(h, ctxReader{ctx, fh}, make([]byte, copyBufSize)); err != nil {
		return "", fmt.Errorf("hashing %s: %w", fh.Name(), err)
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// Refetch removes the cached file of src and fetches it again: for a
// caller that found, while reading it, that the entry does not verify.
// Offline it fails with ErrBadEntry and ErrNotCached.
func (f *Fetcher) Refetch(ctx context.Context, src Source) (string, error) {
	src.normalize()
	if err := src.validate(); err != nil {
		return "", err
	}
	f.evict(src)
	if f.opts.Offline {
		err := fmt.Errorf("fetching %s: %w: the cached file did not verify and was removed; offline, so it is %w",
			src.Name, ErrBadEntry, ErrNotCached)
		f.emit(Event{Name: src.Name, Kind: Failed, Err: err})
		return "", err
	}
	return f.Fetch(ctx, src)
}

// evict removes the entry (the name only: a symlink goes, not its target).
func (f *Fetcher) evict(src Source) {
	os.Remove(f.finalPath(src.Algorithm, src.Digest))
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}

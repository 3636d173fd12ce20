package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"github.com/usbkit/compose/config/atomicfile"
	"path/filepath"
	"sync/atomic"
	"time"
)

// keptDir is the cache directory holding the last copy of every checksum
// list, signature and key read over http, named by the SHA-256 of its URL:
// a lock is checked against its vendor's list again later (plan, fetch,
// apply) also when the network cannot be used.
const keptDir = "lists"

// keptKey marks, in a context, a read that may fall back on the kept
// copies, counting how often it did.
type keptKey struct{}

// CheckList is ResolveList for checking a lock against the vendor's list
// it was pinned from. The list (and signature and key) are read anew when
// the server can be reached, in one try of at most checkTimeout, and their
// copies kept; offline, or when the server cannot be reached, the copies
// kept when they were last read are used instead, and kept is true. Without copies the error is the
// network's (ErrNotCached offline).
func (f *Fetcher) CheckList(ctx context.Context, listURL, loc string, sig *Signature) (alg, digest string, kept bool, err error) {
	var used atomic.Int32
	alg, digest, err = f.ResolveList(context.WithValue(ctx, keptKey{}, &used), listURL, loc, sig)
	return alg, digest, used.Load() > 0, err
}

// checkTimeout bounds a CheckList read: plan must not wait minutes for a
// server that does not answer when the kept copy would do.
const checkTimeout = 15 * time.Second

// checking says whether ctx is a CheckList read.
func checking(ctx context.Context) bool {
	_, ok := ctx.Value(keptKey{}).(*atomic.Int32)
	return ok
}

func (f *Fetcher) keptPath(url string) string {
	sum := sha256.Sum256([]byte(url))
	return filepath.Join(f.opts.CacheDir, keptDir, hex.EncodeToString(sum[:]))
}

// keep stores b as the copy of url; a failure only costs the copy.
func (f *Fetcher) keep(url string, b []byte) {
	dir := filepath.Join(f.opts.CacheDir, keptDir)
	if makeCacheDir(dir) != nil {
		return
	}
	_ = atomicfile.Write(f.keptPath(url), b)
}

// fromKept answers a read that failed with err (the network could not be
// used) from url's kept copy, when ctx allows it and there is one; else
// it returns err.
func (f *Fetcher) fromKept(ctx context.Context, url string, err error) ([]byte, error) {
	used, ok := ctx.Value(keptKey{}).(*atomic.Int32)
	if !ok || !(errors.Is(err, ErrNotCached) || errors.Is(err, ErrUnreachable) || isTransient(err)) {
		return nil, err
	}
	if checkCacheDirs(f.opts.CacheDir, keptDir) != nil {
		return nil, err
	}
	fh, _, oerr := openRegular(f.keptPath(url))
	if oerr != nil {
		return nil, err
	}
	defer fh.Close()
	b, rerr := readLimited(fh)
	if rerr != nil {
		return nil, err
	}
	used.Add(1)
	return b, nil
}

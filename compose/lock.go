package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// location is where an ISO comes from: its URL, or its resolved local path.
func location(iso *config.ISO) string {
	if iso.URL != "" {
		return iso.URL
	}
	return iso.LocalPath
}

// Sources lists what to fetch for m as pinned by l, in manifest order. l must
// match m (see config.Lock.Check).
func Sources(m *config.Manifest, l *config.Lock) ([]fetch.Source, error) {
	out := make([]fetch.Source, 0, len(m.ISOs))
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		e := l.ISO(iso.Name)
		if e == nil {
			return nil, fmt.Errorf("%s: %s is not in the lock file", m.Diag(fmt.Sprintf("isos[%d]", i), "").String(), iso.Name)
		}
		out = append(out, fetch.Source{Name: iso.Name, URL: location(iso),
			Algorithm: e.Algorithm, Digest: e.Digest, Size: e.Size})
	}
	return out, nil
}

// ResolveLock pins every ISO of m: it reads vendors' checksum lists (with
// their signatures) for `checksum: file:` entries, then fetches each ISO into
// the cache, verifying it, to learn its size. The lock is true of real bytes,
// never of a listing alone.
func ResolveLock(ctx context.Context, m *config.Manifest, f *fetch.Fetcher) (*config.Lock, error) {
	srcs := make([]fetch.Source, len(m.ISOs))
	var errs []error
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		alg, digest, err := pinDigest(ctx, iso, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", iso.Name, err))
			continue
		}
		srcs[i] = fetch.Source{Name: iso.Name, URL: location(iso), Algorithm: alg, Digest: digest}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	res, err := f.FetchAll(ctx, srcs)
	if err != nil {
		return nil, err
	}
	l := &config.Lock{Version: config.Version}
	for i, r := range res {
		st, err := os.Stat(r.Path)
		if err != nil {
			return nil, err
		}
		if st.Size() == 0 { // the lock would refuse size 0 as if it were the lock's fault
			return nil, fmt.Errorf("%s: %s is empty (0 bytes), not an ISO image", m.ISOs[i].Name, location(&m.ISOs[i]))
		}
		l.ISOs = append(l.ISOs, m.ISOs[i].Lock(r.Source.Algorithm, r.Source.Digest, st.Size()))
	}
	return l, nil
}

// pinDigest gives the algorithm and digest of iso: inline, or looked up in
// the checksum list it names.
func pinDigest(ctx context.Context, iso *config.ISO, f *fetch.Fetcher) (string, string, error) {
	c := iso.Checksum
	if c.ListURL == "" {
		return c.Algorithm, c.Digest, nil
	}
	var sig *fetch.Signature
	if s := iso.Signature; s != nil {
		sig = &fetch.Signature{URL: s.URL, Fingerprint: s.Key.Fingerprint, KeyURL: s.Key.URL, KeyFile: s.Key.LocalFile}
	}
	alg, digest, err := f.ResolveList(ctx, c.ListURL, location(iso), sig)
	if err != nil {
		return "", "", fmt.Errorf("resolving checksum from %s: %w", c.ListURL, err)
	}
	return alg, digest, nil
}

// checkLockedSizes tells an edited lock from a damaged cache entry before
// fetching: a cached file whose size differs from the lock's but whose bytes
// still hash to the lock's digest means the lock's size is wrong (the lock's
// error, at its line). A file that no longer hashes to it is left to the
// fetcher, which removes it and fetches it again.
func checkLockedSizes(ctx context.Context, l *config.Lock, f *fetch.Fetcher, srcs []fetch.Source) error {
	for _, s := range srcs {
		p, err := f.Lookup(s.Algorithm, s.Digest)
		if err != nil {
			return err
		}
		if p == "" || checkLockedSize(l, s.Name, p, s.Size) == nil {
			continue
		}
		if d, err := fetch.FileDigest(ctx, p, s.Algorithm); err == nil && strings.EqualFold(d, s.Digest) {
			return checkLockedSize(l, s.Name, p, s.Size)
		}
	}
	return nil
}

// checkLockedSize compares the size the lock pins for an ISO with its
// verified file in the cache. The digest matched, so a difference means
// the lock was edited: that is the lock's fault, and the error points at
// the lock's line (a *config.StaleLockError: run compose lock).
func checkLockedSize(l *config.Lock, name, file string, size int64) error {
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	if st.Size() == size {
		return nil
	}
	d := config.Diagnostic{File: l.File, Msg: fmt.Sprintf("%s: size: the lock pins %d bytes, but the file with its digest has %d (was the lock edited?)", name, size, st.Size())}
	for i, e := range l.ISOs {
		if e.Name == name {
			pos := l.Positions[fmt.Sprintf("isos[%d].size", i)]
			d.Line, d.Col = pos.Line, pos.Col
			d.Msg = fmt.Sprintf("isos[%d].size: %s is locked as %d bytes, but the file with its digest has %d (was the lock edited?)", i, name, size, st.Size())
		}
	}
	return &config.StaleLockError{Problems: config.Diagnostics{d}}
}

// lockedSizeErrors joins the failures of res, naming the lock line that
// pinned the size of each source whose size was not what the lock says (a
// *fetch.SizeError): the vendor may have replaced the file, and only
// 'compose lock' can tell the lock so.
func lockedSizeErrors(l *config.Lock, res []fetch.Result) error {
	var errs []error
	for _, r := range res {
		var se *fetch.SizeError
		if !errors.As(r.Err, &se) {
			if r.Err != nil {
				errs = append(errs, r.Err)
			}
			continue
		}
		where := l.File
		for i, e := range l.ISOs {
			if e.Name == r.Source.Name {
				if pos := l.Positions[fmt.Sprintf("isos[%d].size", i)]; pos.Line > 0 {
					where = fmt.Sprintf("%s:%d:%d", l.File, pos.Line, pos.Col)
				}
			}
		}
		errs = append(errs, fmt.Errorf("%w; the expected size is the lock's (%s: %s: size %d): if the file changed at its source, run 'compose lock' to pin it anew",
			r.Err, where, r.Source.Name, se.Want))
	}
	return errors.Join(errs...)
}

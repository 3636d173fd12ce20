package pin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/filekind"
	"github.com/usbkit/compose/fetch"
)

// Location is where an ISO comes from: its URL, or its resolved local path.
func Location(iso *config.ISO) string {
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
		loc := e.URL // a url with {version} is the lock's, at its version
		if loc == "" {
			loc = Location(iso)
		}
		out = append(out, fetch.Source{Name: iso.Name, URL: loc,
			Algorithm: e.Algorithm, Digest: e.Digest, Size: e.Size})
	}
	return out, nil
}

// ResolveLock pins every ISO of m (PinLock) and fetches each into the
// cache, verifying it against the lock.
func ResolveLock(ctx context.Context, m *config.Manifest, f *fetch.Fetcher) (*config.Lock, error) {
	l, _, err := PinLock(ctx, m, f, nil, nil)
	if err != nil {
		return nil, err
	}
	srcs, err := Sources(m, l)
	if err != nil {
		return nil, err
	}
	res, err := f.FetchAll(ctx, srcs)
	if err != nil {
		return nil, LockedSizeErrors(m, l, res)
	}
	return l, nil
}

// PinLock pins the ISOs of m named in names (nil: all) without
// downloading what it need not: the digest is the manifest's, or what the
// vendor's checksum list (with its signature) says for the file; the size
// of a network source is that of its verified cache entry or what the
// server answers to a HEAD request, checked again when the ISO is fetched.
// A `path:` ISO is copied into the cache and verified (a local read), and
// an ISO whose server does not say its size is downloaded and verified to
// learn it; those fetches are the Results, so that the run does not fetch
// them again. An ISO not named keeps its entry in old when that
// entry still matches the manifest, and is pinned like the others when it
// does not.
//
// An ISO whose url holds {version} keeps the version of its entry in old
// while that entry still pins the manifest (the digest is read anew at that
// version); without one, it is resolved to the newest version its
// constraint admits. Update resolves every named ISO to the newest.
func PinLock(ctx context.Context, m *config.Manifest, f *fetch.Fetcher, old *config.Lock, names []string) (*config.Lock, []fetch.Result, error) {
	return pinLock(ctx, m, f, old, names, false)
}

// Update is PinLock that moves every named ISO with {version} (none: all)
// to the newest version its constraint admits.
func Update(ctx context.Context, m *config.Manifest, f *fetch.Fetcher, old *config.Lock, names []string) (*config.Lock, []fetch.Result, error) {
	return pinLock(ctx, m, f, old, names, true)
}

func pinLock(ctx context.Context, m *config.Manifest, f *fetch.Fetcher, old *config.Lock, names []string, newest bool) (*config.Lock, []fetch.Result, error) {
	pick, err := pickNames(m, names)
	if err != nil {
		return nil, nil, err
	}
	if err := CheckPaths(m); err != nil {
		return nil, nil, err
	}
	entries := make([]config.LockedISO, len(m.ISOs))
	var unsized []fetch.Source
	var where []int
	var errs []error
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		if e := keptEntry(old, iso); e != nil && !pick[iso.Name] {
			entries[i] = *e
			continue
		}
		v := ""
		if e := keptEntry(old, iso); e != nil && !newest {
			v = e.Version
		}
		src, v, size, err := pinISO(ctx, m, i, f, v)
		entries[i].Version = v
		switch {
		case err != nil:
			errs = append(errs, err)
		case size == 0:
			unsized, where = append(unsized, src), append(where, i)
		default:
			entries[i] = iso.LockAt(v, src.Algorithm, src.Digest, size)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	res, err := sizeByFetching(ctx, m, f, unsized, where, entries)
	if err != nil {
		return nil, nil, err
	}
	return &config.Lock{Version: config.Version, ISOs: entries}, res, nil
}

// pickNames turns the names given to PinLock into a set, refusing a name
// that is not an ISO of m. No names picks every ISO.
func pickNames(m *config.Manifest, names []string) (map[string]bool, error) {
	pick := map[string]bool{}
	for _, n := range names {
		if m.ISO(n) == nil {
			var have []string
			for _, iso := range m.ISOs {
				have = append(have, iso.Name)
			}
			return nil, fmt.Errorf("%s has no ISO named %q (it has: %s): %w", m.File, n, strings.Join(have, ", "), ErrUnknownName)
		}
		pick[n] = true
	}
	if len(names) == 0 {
		for _, iso := range m.ISOs {
			pick[iso.Name] = true
		}
	}
	return pick, nil
}

// ErrUnknownName is a name given to lock that is not an ISO of the manifest.
var ErrUnknownName = errors.New("no such ISO")

// keptEntry is old's entry for iso when it still pins what the manifest
// names (same URL or path, same checksum), else nil.
func keptEntry(old *config.Lock, iso *config.ISO) *config.LockedISO {
	if old == nil {
		return nil
	}
	e := old.ISO(iso.Name)
	if e == nil {
		return nil
	}
	if _, why := e.Pins(iso); why != "" {
		return nil
	}
	return e
}

// pinISO finds the version (v when given), the digest and, without
// downloading, the size of the i-th ISO of m; size 0 when only a download
// can tell.
func pinISO(ctx context.Context, m *config.Manifest, i int, f *fetch.Fetcher, v string) (fetch.Source, string, int64, error) {
	iso := &m.ISOs[i]
	if iso.Templated() && v == "" {
		var err error
		if v, err = newestVersion(ctx, iso, f); err != nil {
			field := ""
			if errors.Is(err, fetch.ErrNoVersion) {
				field = "version"
			}
			return fetch.Source{}, "", 0, sourceError(m, i, field, err)
		}
	}
	at := iso.At(v)
	alg, digest, err := pinDigest(ctx, iso, at, f)
	if err != nil {
		return fetch.Source{}, v, 0, sourceError(m, i, "checksum", err)
	}
	src := fetch.Source{Name: iso.Name, URL: Location(iso), Algorithm: alg, Digest: digest}
	if iso.LocalPath != "" {
		return src, v, 0, nil // copied and verified: a local read, and the lock is true of real bytes
	}
	src.URL = at.URL
	size, err := f.Size(ctx, src)
	if err != nil {
		return src, v, 0, sourceError(m, i, "", err)
	}
	return src, v, size, nil
}

// newestVersion resolves iso's {version}: from the checksum list's names
// (its signature checked first) or the parent directory's index.
func newestVersion(ctx context.Context, iso *config.ISO, f *fetch.Fetcher) (string, error) {
	q := fetch.VersionQuery{URL: iso.URL, ListURL: iso.Checksum.ListURL, Signature: listSignature(iso, ""), Constraint: iso.Constraint()}
	v, err := f.NewestVersion(ctx, q)
	if err != nil {
		return "", fmt.Errorf("%s: resolving %s: %w", iso.Name, config.Placeholder, err)
	}
	return v, nil
}

// sizeByFetching downloads the sources whose size no server told, and
// pins the size of the verified file in entries[where[j]].
func sizeByFetching(ctx context.Context, m *config.Manifest, f *fetch.Fetcher, srcs []fetch.Source, where []int, entries []config.LockedISO) ([]fetch.Result, error) {
	if len(srcs) == 0 {
		return nil, nil
	}
	res, err := f.FetchAll(ctx, srcs)
	if err != nil {
		var errs []error
		for j, r := range res {
			if r.Err != nil {
				errs = append(errs, sourceError(m, where[j], "", r.Err))
			}
		}
		return nil, errors.Join(errs...)
	}
	for j, r := range res {
		i := where[j]
		st, err := os.Stat(r.Path)
		if err != nil {
			return nil, err
		}
		if st.Size() == 0 { // the lock would refuse size 0 as if it were the lock's fault
			return nil, fmt.Errorf("%s: %s is empty (0 bytes), not an ISO image", m.ISOs[i].Name, Location(&m.ISOs[i]))
		}
		entries[i] = m.ISOs[i].LockAt(entries[i].Version, r.Source.Algorithm, r.Source.Digest, st.Size())
	}
	return res, nil
}

// CheckPaths reports every `path:` ISO of m whose file is missing or is
// not a regular file, at the manifest line that names it: the lock, a
// fetch (even one the cache answers) and validate all say so.
func CheckPaths(m *config.Manifest) error {
	var errs []error
	for i := range m.ISOs {
		iso := &m.ISOs[i]
		if iso.LocalPath == "" {
			continue
		}
		fi, err := os.Stat(iso.LocalPath)
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is %s, not a regular file", iso.LocalPath, filekind.Of(fi.Mode()))
		}
		if err != nil {
			errs = append(errs, sourceError(m, i, "path", err))
		}
	}
	return errors.Join(errs...)
}

// SourceError is a failure to pin or fetch one ISO, placed at the
// manifest line that says where the ISO comes from (or its checksum),
// with what to do about it.
type SourceError struct {
	Where config.Diagnostic // Msg is Err's text
	Err   error
	hint  string
}

func (e *SourceError) Error() string { return e.Where.String() }
func (e *SourceError) Unwrap() error { return e.Err }

// Hint says what to do; "" leaves it to the kind of Err.
func (e *SourceError) Hint() string { return e.hint }

// sourceError places err, a failure of the i-th ISO of m, at its field
// ("path", "checksum"; "" for where it comes from), and picks the hint.
func sourceError(m *config.Manifest, i int, field string, err error) error {
	var se *SourceError
	if errors.As(err, &se) || err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err // placed already, or not the entry's fault
	}
	p := fmt.Sprintf("isos[%d]", i)
	if errors.Is(err, fetch.ErrChecksumMismatch) {
		field = "checksum" // the bytes arrived; the digest they do not match is the manifest's
	}
	switch field {
	case "", "path":
		p = firstSet(m, p, "url", "path")
	case "checksum":
		p = firstSet(m, p, "checksum", "sha256", "sha512")
	case "version":
		p = firstSet(m, p, "version", "url")
	}
	name := m.ISOs[i].Name
	msg := err.Error()
	if !strings.Contains(msg, name) {
		msg = name + ": " + msg
	}
	hint := sourceHint(p, err)
	if movedOn(&m.ISOs[i], err) {
		hint = fmt.Sprintf("the vendor no longer lists the pinned release: 'compose update %s' pins the newest one%s", name, admits(m.ISOs[i].Version))
	}
	return &SourceError{Where: m.Diag(p, "%s", msg), Err: err, hint: hint}
}

// movedOn reports whether err says that a {version} ISO's pinned release
// is gone: its list has no line for it, or its server no file.
func movedOn(iso *config.ISO, err error) bool {
	var st *fetch.StatusError
	return iso.Templated() && (errors.Is(err, fetch.ErrNoLine) || errors.As(err, &st) && (st.Code == 404 || st.Code == 410))
}

// admits names a constraint for a hint ("" for none).
func admits(constraint string) string {
	if constraint == "" {
		return ""
	}
	return " that version: " + constraint + " admits"
}

// isoIndex is the index of the ISO called name in m, -1 for none.
func isoIndex(m *config.Manifest, name string) int {
	for i := range m.ISOs {
		if m.ISOs[i].Name == name {
			return i
		}
	}
	return -1
}

func firstSet(m *config.Manifest, p string, fields ...string) string {
	for _, f := range fields {
		if _, ok := m.Positions[p+"."+f]; ok {
			return p + "." + f
		}
	}
	return p
}

// sourceHint is the next step for a failure at manifest field p.
func sourceHint(p string, err error) string {
	var st *fetch.StatusError
	switch {
	case errors.Is(err, fetch.ErrUnreachable):
		return fmt.Sprintf("nothing answers there: check the host and port in %s, the network and any proxy ($https_proxy); an ISO already cached needs no network ('compose fetch --offline')", p)
	case errors.As(err, &st) && (st.Code == 404 || st.Code == 410):
		return fmt.Sprintf("the server has no file at %s: check it in a browser; a vendor that moves or replaces an ISO usually renames it, so update %s and run 'compose lock NAME'", p, p)
	case errors.As(err, &st) && (st.Code == 401 || st.Code == 403):
		return fmt.Sprintf("the server refused access to %s: check the URL and its credentials (~/.netrc, or s3 keys in the environment)", p)
	}
	return ""
}

// pinDigest gives the algorithm and digest of iso: inline, or looked up in
// the checksum list it names, read anew.
// at is iso's URLs at the version pinned ({version} replaced).
func pinDigest(ctx context.Context, iso *config.ISO, at config.Sources, f *fetch.Fetcher) (string, string, error) {
	c := iso.Checksum
	if c.ListURL == "" {
		return c.Algorithm, c.Digest, nil
	}
	loc := Location(iso)
	if iso.URL != "" {
		loc = at.URL
	}
	alg, digest, err := f.ResolveList(ctx, at.ListURL, loc, listSignature(iso, at.SignatureURL))
	if err != nil {
		return "", "", fmt.Errorf("resolving checksum from %s: %w", at.ListURL, err)
	}
	return alg, digest, nil
}

// listSignature is how iso's checksum list is signed, its detached
// signature at sigURL ("": as written); nil: it is not signed.
func listSignature(iso *config.ISO, sigURL string) *fetch.Signature {
	s := iso.Signature
	if s == nil {
		return nil
	}
	if sigURL == "" {
		sigURL = s.URL
	}
	return &fetch.Signature{URL: sigURL, Fingerprint: s.Key.Fingerprint, KeyURL: s.Key.URL, KeyFile: s.Key.LocalFile}
}

// CheckLockedSizes tells an edited lock from a damaged cache entry before
// fetching: a cached file whose size differs from the lock's but whose bytes
// still hash to the lock's digest means the lock's size is wrong (the lock's
// error, at its line). A file that no longer hashes to it is left to the
// fetcher, which removes it and fetches it again.
func CheckLockedSizes(ctx context.Context, l *config.Lock, f *fetch.Fetcher, srcs []fetch.Source) error {
	for _, s := range srcs {
		p, err := f.Lookup(s.Algorithm, s.Digest)
		if err != nil {
			return err
		}
		if p == "" || CheckLockedSize(l, s.Name, p, s.Size) == nil {
			continue
		}
		if d, err := fetch.FileDigest(ctx, p, s.Algorithm); err == nil && strings.EqualFold(d, s.Digest) {
			return CheckLockedSize(l, s.Name, p, s.Size)
		}
	}
	return nil
}

// CheckLockedSize compares the size the lock pins for an ISO with its
// verified file in the cache. The digest matched, so a difference means
// the lock was edited: that is the lock's fault, and the error points at
// the lock's line (a *config.StaleLockError: run compose lock).
func CheckLockedSize(l *config.Lock, name, file string, size int64) error {
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

// LockedSizeErrors joins the failures of res (in m's order), naming the
// lock line that pinned the size of each source whose size was not what
// the lock says (a *fetch.SizeError): the vendor may have replaced the
// file, and only 'compose lock' can tell the lock so. Other failures are
// placed at the manifest line of their ISO (a *SourceError).
func LockedSizeErrors(m *config.Manifest, l *config.Lock, res []fetch.Result) error {
	var errs []error
	for _, r := range res {
		var se *fetch.SizeError
		if !errors.As(r.Err, &se) {
			if i := isoIndex(m, r.Source.Name); r.Err != nil && i >= 0 {
				errs = append(errs, sourceError(m, i, "", r.Err))
			} else if r.Err != nil {
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

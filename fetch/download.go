package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/usbkit/compose/config/plural"
)

type locKind int

const (
	locHTTP locKind = iota
	locFile
	locS3
)

// parseLocation sorts the URL of a checksum list, signature or key into
// one of the ways to read it (getSmall). ISO sources go through go-getter
// (getters.go).
func parseLocation(raw string) (locKind, string, error) {
	if filepath.IsAbs(raw) {
		return locFile, filepath.Clean(raw), nil
	}
	if forcedGetter(raw) != "" {
		if !strings.HasPrefix(raw, "s3::") {
			return 0, "", fmt.Errorf("unsupported URL %q (the only forced getter is s3::)", redact(raw))
		}
		_, err := parseS3(raw)
		return locS3, raw, err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return 0, "", fmt.Errorf("bad URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return 0, "", fmt.Errorf("URL %q has no host", raw)
		}
		return locHTTP, raw, nil
	case "file":
		if !filepath.IsAbs(u.Path) || (u.Host != "" && u.Host != "localhost") {
			return 0, "", fmt.Errorf("file URL %q must name an absolute local path", raw)
		}
		return locFile, filepath.Clean(u.Path), nil
	case "s3":
		_, err := parseS3(raw)
		return locS3, raw, err
	}
	return 0, "", fmt.Errorf("unsupported URL %q (want http, https, s3, file or an absolute path)", raw)
}

// forcedGetter returns "s3" for "s3::https://…", the go-getter syntax
// (letters and digits, then "::"), and "" for anything else, such as an
// IPv6 literal "http://[::1]/".
func forcedGetter(raw string) string {
	name, _, ok := strings.Cut(raw, "::")
	if !ok || name == "" || strings.Trim(strings.ToLower(name), "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return ""
	}
	return name
}

// redact hides passwords and s3 secrets before a URL goes into an error.
func redact(raw string) string {
	prefix, rest := "", raw
	if g := forcedGetter(raw); g != "" {
		prefix, rest = g+"::", raw[len(g)+2:]
	}
	u, err := url.Parse(rest)
	if err != nil || filepath.IsAbs(raw) {
		return raw
	}
	q := u.Query()
	for _, k := range []string{"aws_access_key_secret", "aws_access_token"} {
		if q.Has(k) {
			q.Set(k, "redacted")
		}
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return prefix + u.Redacted()
}

// download fills <final>.partial and renames it into place, over bad (the
// entry found bad, nil when there was none) if that is still there: a run
// that opens the entry meanwhile gets the old file or the new one, never
// nothing. cached is true when another fetch finished the same digest
// while this one waited.
func (f *Fetcher) download(ctx context.Context, src Source, bad os.FileInfo) (cached bool, err error) {
	g, err := f.detect(src.URL)
	if err != nil {
		return false, err
	}
	final := f.finalPath(src.Algorithm, src.Digest)
	p, err := f.openPartial(ctx, src)
	if err != nil {
		return false, err
	}
	defer p.close()
	e, fi, err := f.entry(src.Algorithm, src.Digest, src.Size)
	switch {
	case e != "" && (bad == nil || !os.SameFile(bad, fi)):
		p.discard() // another fetch finished it while this one waited
		return true, nil
	case errors.Is(err, ErrBadEntry) && fi.IsDir():
		f.evictLocked(src, fi) // the rename cannot replace a directory
	case err != nil && !errors.Is(err, ErrBadEntry):
		return false, err
	}
	if e != "" || err != nil {
		bad = fi // what the rename replaces: removed if the download fails
	}
	if resumes(g) {
		err = p.hashPrefix(src.Size)
	} else {
		err = p.reset()
	}
	if err == nil {
		f.emit(Event{Name: src.Name, Kind: Start, Bytes: p.n, Total: src.Size})
		err = f.transfer(ctx, src, p, final)
	}
	if err != nil && p.n == 0 {
		p.discard() // nothing worth resuming
	}
	if err != nil && bad != nil {
		f.evictLocked(src, bad) // no good file to put in its place
	}
	return false, err
}

// SizeError means the source is not the size the Source pins (Size): the
// server announced another length, the local file has another size, or
// more bytes arrived (Got -1). Nothing was kept. The pinned size is the
// caller's (compose: the lock's), who can say where it comes from.
type SizeError struct {
	What      string // "server announces", "source sends", "PATH is"
	Got, Want int64
}

func (e *SizeError) Error() string {
	if e.Got < 0 {
		return fmt.Sprintf("%s more than the expected %d bytes", e.What, e.Want)
	}
	return fmt.Sprintf("%s %d bytes, expected %d", e.What, e.Got, e.Want)
}

// errRestart asks for an immediate new attempt from byte 0.
var errRestart = errors.New("restart from zero")

// transfer runs attempts until the file verifies, a permanent error occurs,
// ctx ends, or Retries attempts in a row failed without progress.
func (f *Fetcher) transfer(ctx context.Context, src Source, p *partial, final string) error {
	failures, restarted := 0, false
	for n := 1; ; n++ {
		before := p.n
		err := f.attempt(ctx, src, p)
		if err == nil {
			err = f.verify(src, p, final)
			if err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if errors.Is(err, errRestart) && !restarted {
			restarted = true
			f.emit(Event{Name: src.Name, Kind: Retry, Attempt: n, Err: err, Total: src.Size})
			continue
		}
		if !isTransient(err) {
			return err
		}
		if p.n > before {
			failures = 0
		}
		failures++
		if failures > f.opts.Retries {
			return fmt.Errorf("giving up after %s: %w", plural.Count(n, "attempt"), err)
		}
		f.emit(Event{Name: src.Name, Kind: Retry, Attempt: n, Err: err, Bytes: p.n, Total: src.Size})
		if err := sleep(ctx, f.backoff(failures)); err != nil {
			return err
		}
	}
}

// verify compares the digest of what arrived and commits or deletes it. A
// mismatch after resuming may come from a stale prefix, so it restarts once.
func (f *Fetcher) verify(src Source, p *partial, final string) error {
	got := p.sum()
	if got == src.Digest {
		return p.commit(final)
	}
	resumed := p.resumed
	if err := p.reset(); err != nil {
		return err
	}
	if resumed {
		return fmt.Errorf("%w: resumed download does not verify", errRestart)
	}
	return fmt.Errorf("%w: %s want %s, got %s", ErrChecksumMismatch, src.Algorithm, src.Digest, got)
}

func (f *Fetcher) backoff(failures int) time.Duration {
	d := f.opts.Backoff << min(failures-1, 10)
	d = min(d, maxBackoff)
	return d/2 + rand.N(d/2+1) // jitter keeps parallel jobs from retrying in step
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// retryableError marks a failure that another attempt may not see.
type retryableError struct{ err error }

func (e *retryableError) Error() string { return e.err.Error() }
func (e *retryableError) Unwrap() error { return e.err }

func retryable(format string, a ...any) error {
	return &retryableError{fmt.Errorf(format, a...)}
}

// StatusError is an HTTP answer other than 200/206.
type StatusError struct {
	Code   int
	Status string
}

func (e *StatusError) Error() string { return "server answered " + e.Status }

// isTransient says whether another attempt may succeed. Every error of
// http.Client.Do is a *url.Error, which satisfies net.Error, so net.Error
// alone says nothing: only timeouts and failures of a connection that was
// made (*net.OpError, EOF) count, and refused connections, refused
// redirects, certificate errors and unknown host names never do.
func isTransient(err error) bool {
	var re *retryableError
	var se *StatusError
	var ne net.Error
	var oe *net.OpError
	switch {
	case isPermanent(err):
		return false
	case errors.As(err, &re):
		return true
	case errors.As(err, &se):
		return se.Code >= 500 || se.Code == 408 || se.Code == 429
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true // io.EOF: the server closed the connection before answering
	case errors.As(err, &oe):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

func isPermanent(err error) bool {
	var rd *redirectError
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var dns *net.DNSError
	return errors.Is(err, ErrUnreachable) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.As(err, &rd) || errors.As(err, &cv) || errors.As(err, &ua) ||
		errors.As(err, &hn) || errors.As(err, &ci) || (errors.As(err, &dns) && dns.IsNotFound)
}

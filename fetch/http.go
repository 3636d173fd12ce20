package fetch

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/bgentry/go-netrc/netrc"
)

const copyBufSize = 1 << 20

// newHTTPClient builds a client that shares nothing with http.DefaultClient.
// It has no overall timeout (the idle watchdog replaces it), never asks for
// compression (a gzip-decoded body would not hash to the published digest
// and cannot be resumed by byte offset), and refuses https→http redirects.
func newHTTPClient(jobs int) *http.Client {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   30 * time.Second,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   max(jobs, 2),
		DisableCompression:    true,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

// redirectError is a redirect the client refused; no retry changes it.
type redirectError struct{ msg string }

func (e *redirectError) Error() string { return e.msg }

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return &redirectError{"stopped after 10 redirects"}
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return &redirectError{"refusing redirect from https to " + req.URL.Redacted()}
	}
	return nil
}

// stallError is the cause given to an attempt's context when no byte came
// for the idle timeout.
type stallError struct{ d time.Duration }

func (e stallError) Error() string { return fmt.Sprintf("no data received for %s", e.d) }

// watchdog cancels an attempt that sees no byte for d; kick restarts the clock.
type watchdog struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	t      *time.Timer
	d      time.Duration
}

func newWatchdog(parent context.Context, d time.Duration) *watchdog {
	ctx, cancel := context.WithCancelCause(parent)
	w := &watchdog{ctx: ctx, cancel: cancel, d: d}
	w.t = time.AfterFunc(d, func() { cancel(&retryableError{stallError{d}}) })
	return w
}

func (w *watchdog) kick() { w.t.Reset(w.d) }

func (w *watchdog) stop() {
	w.t.Stop()
	w.cancel(nil)
}

// cause turns the "context canceled" a stalled read reports into the stall.
func (w *watchdog) cause(err error) error {
	if c := context.Cause(w.ctx); c != nil && w.ctx.Err() != nil {
		var re *retryableError
		if errors.As(c, &re) {
			return c
		}
	}
	return err
}

// httpGet asks for the bytes the partial file lacks; sign, when set, is the
// last thing to touch the request (s3).
func (f *Fetcher) httpGet(ctx context.Context, src Source, target string, p *partial, sign func(*http.Request)) error {
	if src.Size > 0 && p.n == src.Size {
		return nil // every byte is here from an earlier run; verify decides
	}
	w := newWatchdog(ctx, f.opts.IdleTimeout)
	defer w.stop()
	resp, err := f.send(w, http.MethodGet, target, p.n, sign)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := acceptResponse(resp, src, p); err != nil || resp.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		return err
	}
	return f.copyBodyOf(w.ctx, resp.Body, src, p, w, announced(src, p, resp))
}

// send makes one request under w's idle watchdog: identity encoding, a
// Range from byte from when it is not 0, basic auth from .netrc unless
// sign (s3) signs the request, which it does last. A refused connection
// or an unknown host is ErrUnreachable.
func (f *Fetcher) send(w *watchdog, method, target string, from int64, sign func(*http.Request)) (*http.Response, error) {
	req, err := http.NewRequestWithContext(w.ctx, method, target, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if from > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", from))
	}
	if f.opts.Netrc && sign == nil {
		addNetrcAuth(req)
	}
	if sign != nil {
		sign(req)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		if e := unreachable(req, err); e != nil {
			return nil, e
		}
		return nil, w.cause(err)
	}
	return resp, nil
}

// ErrUnreachable means the source's server could not be reached at all:
// the connection was refused or its host name is unknown. Another
// attempt a second later would see the same, so it is not retried.
var ErrUnreachable = errors.New("cannot connect")

// unreachable words a refused connection or an unknown host as
// ErrUnreachable naming the host, in place of Go's "dial tcp …" text; nil
// for any other error.
func unreachable(req *http.Request, err error) error {
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w to %s: connection refused", ErrUnreachable, req.URL.Host)
	case errors.As(err, &dns) && dns.IsNotFound:
		return fmt.Errorf("%w to %s: no such host", ErrUnreachable, req.URL.Host)
	}
	return nil
}

// acceptResponse checks the status and range of an answer against what the
// partial file holds, starting over where the server would have the bytes
// land at the wrong offset.
func acceptResponse(resp *http.Response, src Source, p *partial) error {
	switch resp.StatusCode {
	case http.StatusOK:
		if p.n > 0 {
			if err := p.reset(); err != nil { // Range ignored: the body starts at byte 0
				return err
			}
		}
	case http.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		start, total, ok := parseContentRange(cr)
		if !ok || start != p.n || (src.Size > 0 && total >= 0 && total != src.Size) {
			asked := p.n
			if err := p.reset(); err != nil {
				return err
			}
			return retryable("asked for bytes from %d, server answered Content-Range %q; starting over", asked, cr)
		}
		// the two parts may come from different versions of the file (a
		// mirror changed between attempts): a mismatch restarts once
		p.resumed = p.resumed || p.n > 0
	case http.StatusRequestedRangeNotSatisfiable:
		_, total, _ := parseContentRange(resp.Header.Get("Content-Range"))
		if total == p.n && p.n > 0 {
			return nil // the earlier run had every byte
		}
		if err := p.reset(); err != nil {
			return err
		}
		return retryable("server refused the range from %d; starting over", p.n)
	default:
		return &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	if src.Size > 0 && resp.ContentLength >= 0 && p.n+resp.ContentLength != src.Size {
		n := p.n + resp.ContentLength
		p.reset()
		return &SizeError{What: "server announces", Got: n, Want: src.Size}
	}
	return nil
}

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL";
// total is -1 when given as "*".
func parseContentRange(s string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, -1, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, -1, false
	}
	total = -1
	if tot != "*" {
		t, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return 0, -1, false
		}
		total = t
	}
	if rng == "*" {
		return -1, total, true
	}
	a, _, found := strings.Cut(rng, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if !found || err != nil {
		return 0, total, false
	}
	return start, total, true
}

// copyBody writes and hashes the body in one pass, feeding the watchdog
// and emitting rate-limited progress of the pinned size.
func (f *Fetcher) copyBody(ctx context.Context, body io.Reader, src Source, p *partial, w *watchdog) error {
	return f.copyBodyOf(ctx, body, src, p, w, src.Size)
}

// announced is the size progress reports for an answer: the pinned one,
// else (lock) what the server announces after the bytes already there.
func announced(src Source, p *partial, resp *http.Response) int64 {
	if src.Size == 0 && resp.ContentLength >= 0 {
		return p.n + resp.ContentLength
	}
	return src.Size
}

// copyBodyOf is copyBody with progress of total bytes (0: unknown).
func (f *Fetcher) copyBodyOf(ctx context.Context, body io.Reader, src Source, p *partial, w *watchdog, total int64) error {
	buf := make([]byte, copyBufSize)
	last := time.Now()
	for {
		n, rerr := body.Read(buf)
		if n > 0 {
			if w != nil {
				w.kick()
			}
			if err := f.checkCap(src, p.n+int64(n)); err != nil {
				p.reset()
				return err
			}
			if err := p.write(buf[:n]); err != nil {
				return fmt.Errorf("writing the cache: %w", err)
			}
			if now := time.Now(); now.Sub(last) >= progressInterval {
				last = now
				f.emit(Event{Name: src.Name, Kind: Progress, Bytes: p.n, Total: total})
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil || ctx.Err() != nil { // the last word on what the .partial keeps (a display after Ctrl-C)
			f.emit(Event{Name: src.Name, Kind: Progress, Bytes: p.n, Total: total})
		}
		if rerr != nil {
			if w != nil {
				return w.cause(rerr)
			}
			return rerr
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
	f.emit(Event{Name: src.Name, Kind: Progress, Bytes: p.n, Total: total})
	if src.Size > 0 && p.n < src.Size {
		return retryable("body ended after %d of %d bytes", p.n, src.Size)
	}
	return nil
}

// checkCap refuses a body that grows past the pinned size or, with no size
// pinned yet (lock), past Options.MaxSize: an endless body must not fill
// the disk.
func (f *Fetcher) checkCap(src Source, n int64) error {
	if src.Size > 0 && n > src.Size {
		return &SizeError{What: "source sends", Got: -1, Want: src.Size}
	}
	if src.Size == 0 && n > f.opts.MaxSize {
		return fmt.Errorf("source sends more than %d bytes, the limit for a file of unknown size (COMPOSE_MAX_DOWNLOAD)", f.opts.MaxSize)
	}
	return nil
}

// addNetrcAuth adds basic auth from an exact machine entry ($NETRC or
// ~/.netrc); the "default" entry is ignored so no password goes to a host
// the user did not name.
func addNetrcAuth(req *http.Request) {
	if req.URL.User != nil {
		return
	}
	path := os.Getenv("NETRC")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return
		}
		path = filepath.Join(home, ".netrc")
	}
	n, err := netrc.ParseFile(path)
	if err != nil {
		return
	}
	if m := n.FindMachine(req.URL.Hostname()); m != nil && !m.IsDefault() {
		req.SetBasicAuth(m.Login, m.Password)
	}
}

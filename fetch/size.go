package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	getter "github.com/hashicorp/go-getter/v2"
)

// Size tells the size of src's file without downloading it, for a lock
// that pins a digest known beforehand: the size of its verified cache
// entry, of a local file, or what the server answers to a HEAD request
// (signed for s3), retried as a download is. 0 means the server did not
// say; only a download can tell then. The size is checked again when the
// file is fetched (a *SizeError).
func (f *Fetcher) Size(ctx context.Context, src Source) (int64, error) {
	src.normalize()
	if err := f.validate(src); err != nil {
		return 0, fmt.Errorf("sizing %s: %w", src.Name, err)
	}
	p, fi, err := f.entry(src.Algorithm, src.Digest, 0)
	switch {
	case err != nil && !errors.Is(err, ErrBadEntry): // an untrusted cache directory
		return 0, fmt.Errorf("sizing %s: %w", src.Name, err)
	case err == nil && p != "":
		return fi.Size(), nil
	}
	g, err := f.detect(src.URL)
	if err != nil {
		return 0, err
	}
	n, err := f.size(ctx, g, src)
	if err != nil {
		return 0, fmt.Errorf("asking %s for the size of %s: %w", redact(src.URL), src.Name, err)
	}
	return n, nil
}

func (f *Fetcher) size(ctx context.Context, g getter.Getter, src Source) (int64, error) {
	req := request(src, "")
	if _, local := g.(*getter.FileGetter); local {
		u, err := url.Parse(req.Src)
		if err != nil {
			return 0, err
		}
		in, fi, err := openRegular(u.Path)
		if err != nil {
			return 0, err
		}
		in.Close()
		return fi.Size(), nil
	}
	if f.cacheOnly() {
		return 0, fmt.Errorf("%s:%s is %w %s (offline)", src.Algorithm, src.Digest, ErrNotCached, f.opts.CacheDir)
	}
	target, sign := src.URL, (func(*http.Request))(nil)
	if _, ok := g.(*s3Getter); ok {
		o, err := parseS3(src.URL)
		if err != nil {
			return 0, err
		}
		target, sign = o.url.String(), func(r *http.Request) { o.sign(r, time.Now()) }
	}
	var n int64
	err := f.retrySmall(ctx, func() error {
		var err error
		n, err = f.head(ctx, target, sign)
		return err
	})
	return n, err
}

// head asks for target's Content-Length; 0 when the answer has none.
func (f *Fetcher) head(ctx context.Context, target string, sign func(*http.Request)) (int64, error) {
	w := newWatchdog(ctx, f.opts.IdleTimeout)
	defer w.stop()
	resp, err := f.send(w, http.MethodHead, target, 0, sign)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	return max(resp.ContentLength, 0), nil
}

package fetch

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	getter "github.com/hashicorp/go-getter"
)

// s3Target turns s3://bucket/key[?region=R] into go-getter's forced form for
// the virtual-hosted AWS endpoint. Other query parameters (version,
// aws_profile, aws_access_key_id…) pass through to go-getter.
func s3Target(u *url.URL) (string, error) {
	key := strings.TrimPrefix(u.Path, "/")
	if u.Host == "" || key == "" {
		return "", fmt.Errorf("bad s3 URL %q (want s3://bucket/key)", u.Redacted())
	}
	if err := checkS3Query(u); err != nil {
		return "", err
	}
	q := u.Query()
	region := q.Get("region")
	if region == "" {
		region = "us-east-1"
	}
	q.Del("region")
	t := url.URL{Scheme: "https", Host: u.Host + ".s3." + region + ".amazonaws.com", Path: "/" + key, RawQuery: q.Encode()}
	return "s3::" + t.String(), nil
}

// checkS3Query rejects go-getter's magic parameters: they would unpack or
// re-hash the file behind this package's back.
func checkS3Query(u *url.URL) error {
	for _, k := range []string{"archive", "checksum", "filename"} {
		if u.Query().Has(k) {
			return fmt.Errorf("s3 URL must not carry the go-getter parameter %q", k)
		}
	}
	if strings.Contains(strings.TrimPrefix(u.Path, "/"), "//") {
		return fmt.Errorf("s3 URL %q has '//' (go-getter would read a subdirectory)", u.Redacted())
	}
	return nil
}

// s3Attempt downloads through a go-getter client made for this attempt
// alone; see the package doc for why only s3 goes this way.
func (f *Fetcher) s3Attempt(ctx context.Context, src Source, target string, p *partial) error {
	if err := p.reset(); err != nil { // go-getter truncates and rewrites from byte 0
		return err
	}
	w := newWatchdog(ctx, f.opts.IdleTimeout)
	defer w.stop()
	tr := &s3Tracker{f: f, src: src, p: p, w: w, last: time.Now()}
	c := &getter.Client{
		Ctx:              w.ctx,
		Src:              target,
		Dst:              p.path,
		Mode:             getter.ClientModeFile,
		Getters:          map[string]getter.Getter{"s3": new(getter.S3Getter)},
		Decompressors:    map[string]getter.Decompressor{},
		Detectors:        []getter.Detector{},
		ProgressListener: tr,
	}
	if err := c.Get(); err != nil {
		if tr.err != nil {
			return tr.err
		}
		return w.cause(err)
	}
	f.emit(Event{Name: src.Name, Kind: Progress, Bytes: p.n, Total: src.Size})
	if src.Size > 0 && p.n != src.Size {
		return retryable("object ended after %d of %d bytes", p.n, src.Size)
	}
	return nil
}

// s3Tracker hashes the object as go-getter streams it to the partial file.
// go-getter writes through its own descriptor, so only the hash and count
// are kept here.
type s3Tracker struct {
	f    *Fetcher
	src  Source
	p    *partial
	w    *watchdog
	last time.Time
	err  error
	body io.ReadCloser
}

func (t *s3Tracker) TrackProgress(_ string, _, _ int64, stream io.ReadCloser) io.ReadCloser {
	t.body = stream
	return t
}

func (t *s3Tracker) Read(b []byte) (int, error) {
	n, err := t.body.Read(b)
	if n > 0 {
		t.w.kick()
		if t.src.Size > 0 && t.p.n+int64(n) > t.src.Size {
			t.err = fmt.Errorf("source sends more than the expected %d bytes", t.src.Size)
			return 0, t.err
		}
		t.p.h.Write(b[:n])
		t.p.n += int64(n)
		if now := time.Now(); now.Sub(t.last) >= progressInterval {
			t.last = now
			t.f.emit(Event{Name: t.src.Name, Kind: Progress, Bytes: t.p.n, Total: t.src.Size})
		}
	}
	return n, err
}

func (t *s3Tracker) Close() error { return t.body.Close() }

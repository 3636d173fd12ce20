package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	getter "github.com/hashicorp/go-getter/v2"
)

// countingGetter records which getter go-getter's Client called.
type countingGetter struct {
	getter.Getter
	name  string
	mu    *sync.Mutex
	calls map[string]int
}

func (g countingGetter) GetFile(ctx context.Context, req *getter.Request) error {
	g.mu.Lock()
	g.calls[g.name]++
	g.mu.Unlock()
	return g.Getter.GetFile(ctx, req)
}

// TestSourcesGoThroughGoGetter fetches one source of each kind and checks
// that go-getter's Client chose the getter: compose's HTTP getter for
// http, compose's S3 getter for s3::, go-getter's FileGetter for a path
// and a file:// URL (a path with "?", "#", "%" and " " in its name included).
func TestSourcesGoThroughGoGetter(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	srv := newFaultServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(testData))
	})
	local := filepath.Join(t.TempDir(), "a?b#c%41 d.iso")
	if err := os.WriteFile(local, testData, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ url, want string }{
		{srv.URL + "/x.iso", "*fetch.httpGetter"},
		{"s3::" + srv.URL + "/lab/x.iso", "*fetch.s3Getter"},
		{local, "*getter.FileGetter"},
		{(&url.URL{Scheme: "file", Path: local}).String(), "*getter.FileGetter"},
	}
	for _, c := range cases {
		f := newTestFetcher(t, t.TempDir(), nil)
		calls, mu := map[string]int{}, new(sync.Mutex)
		for i, g := range f.gg.Getters {
			f.gg.Getters[i] = countingGetter{g, fmt.Sprintf("%T", g), mu, calls}
		}
		if _, err := f.Fetch(context.Background(), src(c.url, testData, true)); err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		if len(calls) != 1 || calls[c.want] != 1 {
			t.Errorf("%s: getters called %v, want %s once", c.url, calls, c.want)
		}
	}
}

// TestDetectRefuses: what go-getter would read as its own syntax, or no
// getter takes, is refused before a cache file is opened.
func TestDetectRefuses(t *testing.T) {
	f := newTestFetcher(t, t.TempDir(), nil)
	for raw, want := range map[string]string{
		"http://h/a//b.iso":             "'//' in its path",
		"http://h/a.iso?checksum=md5:1": "?checksum= is go-getter's own",
		"http://h/a.iso?archive=false":  "?archive= is go-getter's own",
		"git::https://h/r.git":          "unsupported URL",
		"ftp://h/a.iso":                 "unsupported URL",
		"relative/a.iso":                "relative paths",
		"http:///a.iso":                 "has no host",
		"file://host/a.iso":             "absolute local path",
		"s3://bucket":                   "bad s3 URL",
	} {
		_, err := f.detect(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", raw, err, want)
		}
	}
}

// TestUnreachableNotRetried: a refused connection fails the first attempt
// as ErrUnreachable naming the host, without Go's "dial tcp" text and
// without a retry (it used to be retried with backoff, 25.8 s in all).
func TestUnreachableNotRetried(t *testing.T) {
	srv := newFaultServer(t, func(int, http.ResponseWriter, *http.Request) {})
	u := srv.URL + "/x.iso"
	srv.Close() // nothing listens on its port now
	rec := &recorder{}
	f := newTestFetcher(t, t.TempDir(), rec, func(o *Options) { o.Backoff = time.Second })
	start := time.Now()
	_, err := f.Fetch(context.Background(), src(u, testData, true))
	if !errors.Is(err, ErrUnreachable) || strings.Contains(err.Error(), "dial tcp") ||
		!strings.Contains(err.Error(), strings.TrimPrefix(srv.URL, "http://")+": connection refused") {
		t.Fatalf("got %v, want ErrUnreachable naming the host", err)
	}
	if n := rec.count(Retry); n != 0 {
		t.Errorf("%d retries of a refused connection (%s)", n, time.Since(start))
	}
}

package fetch

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestSize: the size of a source without downloading it, by the getter
// go-getter picks: a HEAD answer (signed for s3), a local file, the cache
// entry; 0 when the server does not say; a 404 and offline misses fail.
func TestSize(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodHead {
			gets.Add(1)
		}
		switch {
		case strings.HasPrefix(r.URL.Path, "/lab/") && !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=test/"):
			w.WriteHeader(http.StatusForbidden)
		case r.URL.Path == "/unsized.iso":
			w.WriteHeader(http.StatusOK) // no Content-Length
		case r.URL.Path == "/x.iso" || r.URL.Path == "/lab/x.iso":
			http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(testData))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	local := filepath.Join(t.TempDir(), "x.iso")
	if err := os.WriteFile(local, testData, 0o644); err != nil {
		t.Fatal(err)
	}
	n := int64(len(testData))
	dir := t.TempDir()
	f := newTestFetcher(t, dir, nil)
	ctx := context.Background()
	for _, c := range []struct {
		url  string
		want int64
	}{
		{srv.URL + "/x.iso", n},
		{srv.URL + "/unsized.iso", 0},
		{"s3::" + srv.URL + "/lab/x.iso?aws_access_key_id=test&aws_access_key_secret=s", n},
		{local, n},
	} {
		if got, err := f.Size(ctx, src(c.url, testData, false)); err != nil || got != c.want {
			t.Errorf("%s: %d, %v; want %d", c.url, got, err, c.want)
		}
	}
	if _, err := f.Size(ctx, src(srv.URL+"/gone.iso", testData, false)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("404: got %v", err)
	}
	if gets.Load() != 0 {
		t.Errorf("%d GET requests: Size must not download", gets.Load())
	}
	off := newTestFetcher(t, dir, nil, func(o *Options) { o.Offline = true })
	if _, err := off.Size(ctx, src(srv.URL+"/x.iso", testData, false)); !errors.Is(err, ErrNotCached) {
		t.Errorf("offline, not cached: got %v", err)
	}
	if _, err := f.Fetch(ctx, src(local, testData, true)); err != nil {
		t.Fatal(err)
	}
	if got, err := off.Size(ctx, src(srv.URL+"/x.iso", testData, false)); err != nil || got != n {
		t.Errorf("offline, cached: %d, %v", got, err)
	}
}

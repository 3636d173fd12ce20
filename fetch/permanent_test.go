package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestPermanentErrorsAreNotRetried: a redirect loop cannot get better by
// trying again, so it fails after one chain of redirects, not Retries+1.
func TestPermanentErrorsAreNotRetried(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop.iso", http.StatusFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	f := newTestFetcher(t, dir, nil)
	_, err := f.Fetch(context.Background(), src(srv.URL+"/x.iso", testData, true))
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("want a redirect-loop error, got %v", err)
	}
	if n := hits.Load(); n != 10 {
		t.Fatalf("server saw %d requests: a permanent error was retried (want one chain of 10)", n)
	}
	wantEmptyCache(t, dir)
}

package fetch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// With no size pinned (lock), progress reports the size the server
// announces, so a progress bar knows how far along it is.
func TestProgressTotalFromServerWhenUnpinned(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(serve))
	defer srv.Close()
	rec := &recorder{}
	f := newTestFetcher(t, t.TempDir(), rec)
	if _, err := f.Fetch(context.Background(), src(srv.URL+"/x.iso", testData, false)); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	n := 0
	for _, e := range rec.ev {
		if e.Kind == Progress {
			n++
			if e.Total != int64(len(testData)) {
				t.Errorf("progress event %+v: Total %d, want the announced %d", e, e.Total, len(testData))
			}
		}
	}
	if n == 0 {
		t.Fatalf("no progress events in %+v", rec.ev)
	}
}

// One attempt is "1 attempt".
func TestGivingUpPlural(t *testing.T) {
	srv := newFaultServer(t, func(_ int, w http.ResponseWriter, _ *http.Request) { dropHalf(w) })
	f := newTestFetcher(t, t.TempDir(), nil, func(o *Options) { o.Retries = NoRetries })
	_, err := f.Fetch(context.Background(), src(srv.URL+"/x.iso", testData, true))
	if err == nil || !strings.Contains(err.Error(), "giving up after 1 attempt:") {
		t.Fatalf("want 'giving up after 1 attempt:', got %v", err)
	}
}

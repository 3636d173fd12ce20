package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
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

// After Ctrl-C the last progress event says what the .partial keeps, so a
// display shows what is on disk, not what it heard up to 100 ms before.
func TestCancelReportsWhatIsKept(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(testData)))
		for i := 0; i < len(testData); i += 64 << 10 {
			if _, err := w.Write(testData[i:min(i+64<<10, len(testData))]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			time.Sleep(5 * time.Millisecond)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var last atomic.Int64
	var once sync.Once
	f := newTestFetcher(t, dir, nil, func(o *Options) {
		o.Events = func(e Event) {
			if e.Kind == Progress {
				last.Store(e.Bytes)
				// Ctrl-C comes between two progress events (100 ms apart)
				once.Do(func() { time.AfterFunc(50*time.Millisecond, cancel) })
			}
		}
	})
	if _, err := f.Fetch(ctx, src(srv.URL+"/x.iso", testData, true)); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	files := cacheFiles(t, dir)
	if len(files) != 1 {
		t.Fatalf("cache holds %v, want one .partial", files)
	}
	fi, err := os.Stat(filepath.Join(dir, files[0]))
	if err != nil || fi.Size() != last.Load() {
		t.Fatalf("the .partial holds %d bytes (%v), the last progress event said %d", fi.Size(), err, last.Load())
	}
}

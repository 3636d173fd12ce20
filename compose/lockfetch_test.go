package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usbkit/compose/fetch"
)

// TestLockThenFetchOnce: a first build locks and then fetches (Kit.pin,
// then Kit.Fetch). An ISO the lock had to fetch (a path: copied into the
// cache, a server that does not say its size) is not fetched again: one
// fetch per ISO per run, each ISO one Start and one Done event, no Cached.
// An ISO whose size HEAD told is downloaded once, by Fetch.
func TestLockThenFetchOnce(t *testing.T) {
	dir := t.TempDir()
	data := map[string][]byte{"/sized.iso": bytes.Repeat([]byte("s"), 3000), "/unsized.iso": bytes.Repeat([]byte("u"), 5000)}
	var mu sync.Mutex
	gets := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := data[r.URL.Path]
		if r.Method == http.MethodHead {
			if r.URL.Path == "/sized.iso" {
				w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			}
			return // /unsized.iso: no Content-Length
		}
		mu.Lock()
		gets[r.URL.Path]++
		mu.Unlock()
		http.ServeContent(w, r, "x.iso", time.Time{}, bytes.NewReader(b))
	}))
	defer srv.Close()
	local := bytes.Repeat([]byte("l"), 4000)
	if err := os.WriteFile(filepath.Join(dir, "local.iso"), local, 0o644); err != nil {
		t.Fatal(err)
	}
	hexsum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	manifest := fmt.Sprintf("version: 1\nlabel: kit\nisos:\n"+
		"  - name: local\n    path: local.iso\n    sha256: %q\n"+
		"  - name: sized\n    url: %s/sized.iso\n    sha256: %q\n"+
		"  - name: unsized\n    url: %s/unsized.iso\n    sha256: %q\n",
		hexsum(local), srv.URL, hexsum(data["/sized.iso"]), srv.URL, hexsum(data["/unsized.iso"]))
	file := filepath.Join(dir, "multiboot.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	var evMu sync.Mutex
	events := map[string][]fetch.EventKind{}
	k, err := Load(file, Options{Fetch: fetch.Options{CacheDir: filepath.Join(dir, "cache"), Events: func(e fetch.Event) {
		evMu.Lock()
		defer evMu.Unlock()
		if e.Kind != fetch.Progress {
			events[e.Name] = append(events[e.Name], e.Kind)
		}
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := k.pin(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if gets["/sized.iso"] != 0 {
		t.Errorf("lock downloaded sized.iso, whose digest and size were known")
	}
	out, err := k.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out {
		if r.Cached {
			t.Errorf("%s: reported cached; it was downloaded in this run", r.Name)
		}
		if want := []fetch.EventKind{fetch.Start, fetch.Done}; fmt.Sprint(events[r.Name]) != fmt.Sprint(want) {
			t.Errorf("%s: events %v, want %v (one fetch per run)", r.Name, events[r.Name], want)
		}
	}
	if gets["/sized.iso"] != 1 || gets["/unsized.iso"] != 1 {
		t.Errorf("GET requests %v, want one per ISO", gets)
	}
}

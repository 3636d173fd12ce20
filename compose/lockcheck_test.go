package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// Kit.Fetch runs the same check as plan and apply before it downloads
// anything: once the vendor's list names other bytes than the lock, fetch
// fails with the positioned lock error (exit 3) and the ISO is not
// requested, although its old file is cached. Apply reads each list once
// (its fetch and its plan share the Fetcher's copy).
func TestKitFetchChecksListedDigest(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	iso, err := os.ReadFile(liveISO(t, dir, "alpha", "a"))
	if err != nil {
		t.Fatal(err)
	}
	listed := hexSHA(iso)
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		sum := listed
		mu.Unlock()
		switch r.URL.Path {
		case "/SHA256SUMS":
			fmt.Fprintf(w, "%s *alpha.iso\n", sum)
		case "/alpha.iso":
			http.ServeContent(w, r, "alpha.iso", time.Time{}, bytes.NewReader(iso))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	count := func(p string) int { mu.Lock(); defer mu.Unlock(); return hits[p] }
	mf := filepath.Join(dir, "multiboot.yaml")
	yaml := fmt.Sprintf("version: 1\nlabel: kit\nisos:\n  - name: alpha\n    url: %s/alpha.iso\n    checksum: file:%s/SHA256SUMS\n", srv.URL, srv.URL)
	if err := os.WriteFile(mf, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func() *Kit {
		k, err := Load(mf, Options{Fetch: fetch.Options{CacheDir: filepath.Join(dir, "cache")}})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	if _, err := load().Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := count("/SHA256SUMS")
	if _, err := load().Apply(context.Background(), ApplyOptions{Image: filepath.Join(dir, "kit.img")}); err != nil {
		t.Fatal(err)
	}
	if n := count("/SHA256SUMS") - before; n != 1 {
		t.Errorf("apply read the checksum list %d times, want once", n)
	}
	mu.Lock()
	listed = hexSHA([]byte("the vendor's new alpha.iso"))
	mu.Unlock()
	isoGets := count("/alpha.iso")
	_, err = load().Fetch(context.Background())
	var diags config.Diagnostics
	if !errors.As(err, &diags) || !errors.Is(err, config.ErrInvalid) || diags[0].Line == 0 ||
		!strings.Contains(err.Error(), "isos[0].digest") || !strings.Contains(err.Error(), "compose lock") {
		t.Fatalf("fetch with a lock the list disagrees with: want a positioned lock error, got %v", err)
	}
	if n := count("/alpha.iso") - isoGets; n != 0 {
		t.Errorf("fetch requested the ISO %d times after the lock was refused", n)
	}
}

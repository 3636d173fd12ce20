package pin

import (
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
	"testing"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

func hexSHA(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// A lock whose digest was edited to another ISO's is refused where it
// names the checksum list, offline too when a copy of the list was kept;
// offline without one, the plan says the entry was not checked.
func TestLockDigestCheckedAgainstList(t *testing.T) {
	dir := t.TempDir()
	real, other := []byte("the real iso"), []byte("another iso")
	if err := os.WriteFile(filepath.Join(dir, "a.iso"), real, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%s  a.iso\n", hexSHA(real))
	}))
	defer srv.Close()
	m, err := config.Parse("m.yaml", []byte(fmt.Sprintf("version: 1\nisos:\n  - name: a\n    path: a.iso\n    checksum: file:%s/SHA256SUMS\n", srv.URL)), dir)
	if err != nil {
		t.Fatal(err)
	}
	lockFor := func(digest string) *config.Lock {
		l, err := config.ParseLock("multiboot.lock", []byte(fmt.Sprintf("version: 1\nisos:\n  - name: a\n    path: a.iso\n    source: file:%s/SHA256SUMS\n    algorithm: sha256\n    digest: %s\n    size: 11\n", srv.URL, digest)))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	online, _ := fetch.New(fetch.Options{CacheDir: filepath.Join(dir, "c")})
	if _, err := CheckListedDigests(context.Background(), m, lockFor(hexSHA(real)), online); err != nil {
		t.Fatalf("matching lock: %v", err)
	}
	_, err = CheckListedDigests(context.Background(), m, lockFor(hexSHA(other)), online)
	if !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "multiboot.lock:7:13: isos[0].digest") {
		t.Fatalf("edited lock: want a positioned lock error, got %v", err)
	}
	// offline, the copy of the list kept by the online read is used
	offline, _ := fetch.New(fetch.Options{CacheDir: filepath.Join(dir, "c"), Offline: true})
	_, err = CheckListedDigests(context.Background(), m, lockFor(hexSHA(other)), offline)
	if !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("offline with the list kept: want the lock refused, got %v", err)
	}
	// without a kept copy, one warning naming the list once
	bare, _ := fetch.New(fetch.Options{CacheDir: filepath.Join(dir, "c2"), Offline: true})
	warns, err := CheckListedDigests(context.Background(), m, lockFor(hexSHA(other)), bare)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "not checked") || !strings.Contains(warns[0], "offline") ||
		strings.Count(warns[0], srv.URL) != 1 {
		t.Fatalf("offline: want one warning naming the list once, got %q, %v", warns, err)
	}
}

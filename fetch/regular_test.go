package fetch

import (
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A `path:` source that is a FIFO is refused at once; it used to block in
// open(2) where no signal reached it.
func TestLocalFIFORefused(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pipe.iso")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	f, err := New(Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := f.FetchAll(ctx, []Source{{Name: "p", URL: p, Algorithm: "sha256", Digest: strings.Repeat("a", 64)}})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("want a not-a-regular-file error, got %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("fetching from a FIFO hangs")
	}
}

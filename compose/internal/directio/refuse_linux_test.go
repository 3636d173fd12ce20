package directio

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestOpenRefusedForReal opens a file on ramfs, which has no direct I/O:
// the kernel's refusal (EINVAL at open) must come back as ErrRefused, the
// error callers branch on to fall back to dropping the page cache, with
// the path and the reason they put in their warning. The fallback tests in
// compose fake this refusal; this one checks that the real one is
// recognised.
func TestOpenRefusedForReal(t *testing.T) {
	dir := testenv.Ramfs(t)
	path := filepath.Join(dir, "kit.img")
	if err := os.WriteFile(path, make([]byte, 3*Align), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err == nil {
		r.Close()
		t.Fatal("ramfs accepted O_DIRECT; pick another file system that refuses it")
	}
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("the refusal is not ErrRefused (callers would fail instead of falling back): %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "does not support O_DIRECT") {
		t.Fatalf("the refusal does not say where and why: %q", msg)
	}
	// Other open failures are not refusals: the caller must not paper
	// over them with a fallback.
	if _, err := Open(filepath.Join(dir, "missing")); err == nil || errors.Is(err, ErrRefused) {
		t.Fatalf("a missing file: %v, want an error that is not ErrRefused", err)
	}
}

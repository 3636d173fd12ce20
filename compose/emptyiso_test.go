package compose

import (
	"context"
	"errors"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// A 0-byte ISO is named as such, not reported as an invalid lock (exit 3).
func TestLockEmptyISO(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "empty.iso"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf("version: 1\nisos:\n  - name: e\n    path: empty.iso\n    sha256: %s\n",
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	m, err := config.Parse("m.yaml", []byte(src), dir)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fetch.New(fetch.Options{CacheDir: filepath.Join(dir, "cache")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = pin.ResolveLock(context.Background(), m, f)
	if err == nil || errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "is empty (0 bytes), not an ISO image") {
		t.Fatalf("want an empty-ISO error, got %v", err)
	}
}

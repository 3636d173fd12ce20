package disk

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Build follows config/atomicfile's mode rule: a new image is 0644, a
// replaced one keeps its mode.
func TestBuildModeRule(t *testing.T) {
	out := filepath.Join(t.TempDir(), "kit.img")
	for _, want := range []os.FileMode{0o644, 0o600} {
		if _, err := Build(context.Background(), out, espSpec(), nil); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != want {
			t.Fatalf("image mode %v (%v), want %v", fi.Mode().Perm(), err, want)
		}
		if err := os.Chmod(out, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

package converge

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestVerifyReadsTheFileOpened: the direct reader reads the file verify
// opened, not whatever its path names by the time the reader is made.
func TestVerifyReadsTheFileOpened(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.img"), filepath.Join(dir, "b.img")
	for i, p := range []string{a, b} {
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte('a' + i)}, 8192), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(a)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Rename(b, a); err != nil {
		t.Fatal(err)
	}
	r, _, _, err := uncachedReader(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := r.ReadAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if buf[0] != 'a' || buf[4095] != 'a' {
		t.Fatalf("read %q…, want the bytes of the file opened first", buf[:8])
	}
}

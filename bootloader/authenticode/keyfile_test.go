//go:build unix

package authenticode

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestKeyFilesMustBeRegular: a key or certificate path that is a FIFO, a
// device, a directory or a file of megabytes is an error at once. Found by
// the recheck pass: a FIFO hung compose in open(2) (the first Ctrl-C did
// not end it) and /dev/zero grew it by 1 GB a second.
func TestKeyFilesMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.key")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.crt")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		fifo: "is a named pipe (FIFO), not a regular file",
		zero: "is a character device, not a regular file",
		dir:  "is a directory, not a regular file",
		big:  "is 2097152 bytes, more than a key or certificate file holds",
	} {
		done := make(chan error, 2)
		go func() {
			_, err := LoadCert(path)
			done <- err
			_, err = LoadKeyPair(path, path)
			done <- err
		}()
		for range 2 {
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("%s: %v; want %q", filepath.Base(path), err, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: still reading after 10 s", filepath.Base(path))
			}
		}
	}
}

package config

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A manifest path that is a FIFO is refused at once (it used to block in
// open(2), out of reach of Ctrl-C); so is a directory.
func TestLoadRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "multiboot.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	for p, kind := range map[string]string{fifo: "named pipe", dir: "directory"} {
		_, err := Load(p)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind) {
			t.Errorf("%s: want ErrNotRegular (%s), got %v", p, kind, err)
		}
	}
}

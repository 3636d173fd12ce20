package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// entries lists dir: no temporary file may stay behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		out = append(out, de.Name())
	}
	return out
}

func check(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || string(got) != data {
		t.Fatalf("%s holds %q (%v), want %q", path, got, err, data)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != mode {
		t.Fatalf("%s has mode %v, want %v", path, fi.Mode().Perm(), mode)
	}
	if names := entries(t, filepath.Dir(path)); len(names) != 1 {
		t.Fatalf("the directory holds %v, want only %s", names, filepath.Base(path))
	}
}

// The mode rule: new files are 0644 whatever the umask and CreateTemp's
// 0600; a replaced file keeps its bits (0600 stays private, 0664 shared).
func TestWriteModeRule(t *testing.T) {
	for _, tc := range []struct {
		name     string
		existing fs.FileMode // 0: none
		want     fs.FileMode
	}{
		{"new", 0, 0o644},
		{"private", 0o600, 0o600},
		{"group", 0o664, 0o664},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "multiboot.lock")
			if tc.existing != 0 {
				if err := os.WriteFile(path, []byte("old"), tc.existing); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tc.existing)
			}
			if err := Write(path, []byte("new")); err != nil {
				t.Fatal(err)
			}
			check(t, path, "new", tc.want)
		})
	}
}

// Create never replaces: the file there stays as it was, and no
// temporary file is left.
func TestCreateRefusesExisting(t *testing.T) {
	path := filepath.Join(t.TempDir(), "multiboot.yaml")
	if err := Create(path, []byte("first")); err != nil {
		t.Fatal(err)
	}
	check(t, path, "first", 0o644)
	err := Create(path, []byte("second"))
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("want fs.ErrExist, got %v", err)
	}
	check(t, path, "first", 0o644)
}

// A failed rename (a directory in the way) leaves the directory as it was.
func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kit.img")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("data")); err == nil {
		t.Fatal("Write over a non-empty directory succeeded")
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "kit.img" {
		t.Fatalf("after the failure the directory holds %v", names)
	}
	if err := Write(filepath.Join(dir, "nosuch", "f"), nil); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Write into a missing directory: %v", err)
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "nosuch")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}

package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleLock() *Lock {
	return &Lock{Version: 1, Manifest: "multiboot.yaml", ISOs: []LockedISO{
		{Name: "ubuntu", URL: "https://h/ubuntu.iso", Source: "file:https://h/SHA256SUMS",
			Algorithm: "sha256", Digest: strings.Repeat("ab", 32), Size: 3213064192},
		{Name: "debian", URL: "https://h/debian.iso", Source: "file:https://h/SHA512SUMS",
			Algorithm: "sha512", Digest: strings.Repeat("cd", 64), Size: 663748608},
		{Name: "local", Path: "isos/local.iso", Source: "sha256:" + strings.Repeat("0", 64),
			Algorithm: "sha256", Digest: strings.Repeat("0", 64), Size: 1},
		{Name: "123", URL: "s3://bucket/key with space.iso", Source: "sha256:" + strings.Repeat("1", 64),
			Algorithm: "sha256", Digest: strings.Repeat("1", 64), Size: 2048},
	}}
}

func TestLockMarshalGolden(t *testing.T) {
	l := sampleLock()
	got := l.Marshal()
	golden := filepath.Join("testdata", "golden.lock")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal differs from %s:\n%s", golden, got)
	}
	// Input order must not matter, and the input is not reordered.
	rev := sampleLock()
	for i, j := 0, len(rev.ISOs)-1; i < j; i, j = i+1, j-1 {
		rev.ISOs[i], rev.ISOs[j] = rev.ISOs[j], rev.ISOs[i]
	}
	if !bytes.Equal(rev.Marshal(), got) {
		t.Error("Marshal depends on input order")
	}
	if l.ISOs[0].Name != "ubuntu" {
		t.Error("Marshal reordered the caller's slice")
	}
}

func TestLockRoundTrip(t *testing.T) {
	data := sampleLock().Marshal()
	l, err := ParseLock("multiboot.lock", data)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Marshal(), data) {
		t.Errorf("not stable through a round trip:\n%s", l.Marshal())
	}
	if l.ISOs[0].Name != "123" || l.ISOs[0].Pos.Line == 0 || l.ISO("debian").Size != 663748608 {
		t.Errorf("parsed lock lost data or positions: %+v", l.ISOs)
	}
}

func TestLockErrors(t *testing.T) {
	d64 := strings.Repeat("0a", 32)
	entry := func(extra string) string {
		return "version: 1\nisos:\n  - name: a\n    url: https://h/a\n    source: sha256:" + d64 + "\n    algorithm: sha256\n    digest: " + d64 + "\n    size: 10\n" + extra
	}
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"empty", "", []string{"l.lock:1:1: empty lock file"}},
		{"second document", entry("---\n"), []string{"l.lock:9:1: a second YAML document is not allowed: a lock file is one document"}},
		{"unknown and duplicate fields", entry("    sizes: 1\n    size: 11\n"), []string{
			`l.lock:9:5: isos[0]: unknown field "sizes" (did you mean "size"?)`,
			`l.lock:10:5: isos[0].size: duplicate field "size" (first at line 8)`}},
		{"wrong types", "version: 1\nisos:\n  - {name: 1, size: '10'}\n", []string{
			"l.lock:3:12: isos[0].name: want a string, got an integer (quote it to make it a string)",
			"l.lock:3:21: isos[0].size: want an integer, got a string"}},
		{"missing version", "isos: []\n", []string{"l.lock:1:1: missing field version"}},
		{"bad values", "version: 1\nisos:\n  - name: A\n    path: a\n    url: ftp://h/a\n    source: md5:00\n    algorithm: sha1\n    digest: 0z\n    size: 0\n  - {name: b, url: 'https://h/b', source: 'sha256:" + d64 + "', algorithm: sha256, digest: " + strings.Repeat("1b", 32) + ", size: 5}\n  - {name: b, url: 'https://h/b', source: 'file:https://h/S', algorithm: sha512, digest: " + d64 + ", size: 5}\n", []string{
			"l.lock:3:5: isos[0]: want exactly one of url and path",
			`l.lock:3:11: isos[0].name: "A" is not a valid ISO name`,
			"l.lock:6:13: isos[0].source: md5 is too weak to trust; use sha256 or sha512",
			`l.lock:7:16: isos[0].algorithm: "sha1" is not sha256 or sha512`,
			"l.lock:9:11: isos[0].size: want the ISO's size in bytes, got 0",
			"l.lock:10:145: isos[1].digest: does not match its source sha256:" + d64,
			`l.lock:11:12: isos[2].name: "b" is locked twice (also isos[1])`,
			"l.lock:11:90: isos[2].digest: a sha512 digest has 128 hex digits, got 64"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseLock("l.lock", []byte(tc.src))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if got := err.Error(); got != strings.Join(tc.want, "\n") {
				t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestWriteLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LockName)
	if err := WriteLock(path, sampleLock()); err != nil {
		t.Fatal(err)
	}
	l, err := LoadLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(l.Marshal(), sampleLock().Marshal()) {
		t.Error("written lock reads back differently")
	}
	before, _ := os.ReadFile(path)

	bad := sampleLock()
	bad.ISOs[0].Digest = "nothex"
	err = WriteLock(path, bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "multiboot.lock: isos[0].digest: a sha256 digest has 64 hex digits, got 6") {
		t.Errorf("invalid lock: got %v", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a refused write changed the existing lock")
	}
	if _, err := LoadLock(filepath.Join(dir, "nope.lock")); !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrInvalid) {
		t.Errorf("missing lock: got %v", err)
	}
	if err := WriteLock(filepath.Join(dir, "missing-dir", LockName), sampleLock()); err == nil {
		t.Error("write into a missing directory succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("lock mode: %v %v", fi.Mode(), err)
	}
}

func TestLockCheck(t *testing.T) {
	m, err := Parse("multiboot.yaml", []byte(`version: 1
isos:
  - name: same
    url: https://h/same.iso
    checksum: file:https://h/SUMS
  - name: moved
    url: https://h/new.iso
    checksum: file:https://h/SUMS
  - name: rehashed
    path: r.iso
    sha256: `+strings.Repeat("1a", 32)+`
  - name: new
    url: https://h/n.iso
    sha512: `+strings.Repeat("2b", 64)+`
`), "/kit")
	if err != nil {
		t.Fatal(err)
	}
	l := &Lock{Version: 1, File: "multiboot.lock"}
	for _, name := range []string{"same", "moved", "rehashed"} {
		l.ISOs = append(l.ISOs, m.ISO(name).Lock("sha256", strings.Repeat("1a", 32), 1))
	}
	if err := l.Check(m); err == nil || !strings.Contains(err.Error(), `"new" is not in the lock file`) {
		t.Fatalf("missing entry not reported: %v", err)
	}
	l.ISOs = append(l.ISOs, m.ISO("new").Lock("sha512", strings.Repeat("2b", 64), 1))
	if err := l.Check(m); err != nil {
		t.Fatalf("a fresh lock is stale: %v", err)
	}

	l.ISOs[1].URL = "https://h/old.iso"
	l.ISOs[2].Source, l.ISOs[2].Digest = "sha256:"+strings.Repeat("3c", 32), strings.Repeat("3c", 32)
	l.ISOs = append(l.ISOs, LockedISO{Name: "gone", URL: "https://h/g", Source: "file:https://h/S", Algorithm: "sha256", Digest: strings.Repeat("4", 64), Size: 1})
	l, err = ParseLock("multiboot.lock", l.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	err = l.Check(m)
	var stale *StaleLockError
	if !errors.Is(err, ErrStaleLock) || errors.Is(err, ErrInvalid) || !errors.As(err, &stale) {
		t.Fatalf("want a *StaleLockError matching only ErrStaleLock, got %T %v", err, err)
	}
	want := []string{
		"multiboot.lock:5:5: isos[0]: \"gone\" is locked but no longer in multiboot.yaml",
		"multiboot.yaml:7:10: isos[1]: \"moved\" changed its source since it was locked (locked: https://h/old.iso)",
		"multiboot.yaml:11:13: isos[2]: \"rehashed\" changed its checksum since it was locked (locked: sha256:" + strings.Repeat("3c", 32) + ")",
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if !reflect.DeepEqual(len(stale.Problems), 3) {
		t.Errorf("want 3 problems, got %d", len(stale.Problems))
	}
}

func TestLockPathPerManifest(t *testing.T) {
	for file, want := range map[string]string{
		"/k/multiboot.yaml": "multiboot.lock", "/k/rescue.yaml": "rescue.lock", "/k/lab.yml": "lab.lock",
		"/k/kit": "kit.lock", StdinName: "multiboot.lock",
	} {
		m := &Manifest{File: file, Dir: "/k"}
		if got := LockPath(m); got != filepath.Join("/k", want) {
			t.Errorf("LockPath(%s) = %s, want /k/%s", file, got, want)
		}
	}
}

func TestLockOwner(t *testing.T) {
	l, err := ParseLock("rescue.lock", sampleLock().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if l.Manifest != "multiboot.yaml" {
		t.Fatalf("manifest field not read back: %q", l.Manifest)
	}
	if err := l.CheckOwner(&Manifest{File: "dir/multiboot.yaml"}); err != nil {
		t.Errorf("own manifest refused: %v", err)
	}
	err = l.CheckOwner(&Manifest{File: "rescue.yaml"})
	if !errors.Is(err, ErrForeignLock) || !strings.Contains(err.Error(), "rescue.lock was written for multiboot.yaml, not rescue.yaml") {
		t.Errorf("foreign lock: got %v", err)
	}
	l.Manifest = ""
	if err := l.CheckOwner(&Manifest{File: "rescue.yaml"}); err != nil {
		t.Errorf("a lock from before locks named their manifest is refused: %v", err)
	}
}

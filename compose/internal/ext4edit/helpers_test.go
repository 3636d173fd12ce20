package ext4edit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
)

var (
	testUUID = [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	testTime = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
)

func content(tag string, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewSource(int64(len(tag)*7919 + n)))
	r.Read(b)
	copy(b, tag)
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func digests(files map[string][]byte) map[string]string {
	m := map[string]string{}
	for p, b := range files {
		m[p] = digest(b)
	}
	return m
}

// DataImage builds a GPT image of size bytes with compose/disk holding files
// on its ext4 data partition, without a journal, and returns the image and
// the partition's offset and size. It is set by image_test.go, in the
// external test package: compose/disk imports this package, so only a
// test outside it may import compose/disk.
var DataImage func(t *testing.T, size int64, files map[string][]byte) (img string, off, n int64)

func dataImage(t *testing.T, size int64, files map[string][]byte) (string, int64, int64) {
	t.Helper()
	return DataImage(t, size, files)
}

// dataVolume is dataImage's ext4 partition alone in a sparse file (offset
// 0), which e2fsprogs can read.
func dataVolume(t *testing.T, size int64, files map[string][]byte) string {
	t.Helper()
	img, off, n := dataImage(t, size, files)
	return extract(t, img, off, n)
}

// extract copies off..off+size of img into a sparse file, reading only
// the data regions (SEEK_DATA/SEEK_HOLE) of the sparse source.
func extract(t *testing.T, img string, off, size int64) string {
	t.Helper()
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "ext4.img")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Truncate(size); err != nil {
		t.Fatal(err)
	}
	const seekData, seekHole = 3, 4
	for at := off; at < off+size; {
		data, err := src.Seek(at, seekData)
		if err != nil || data >= off+size {
			break // ENXIO: no data after at
		}
		hole, err := src.Seek(data, seekHole)
		if err != nil {
			t.Fatal(err)
		}
		hole = min(hole, off+size)
		if _, err := io.Copy(io.NewOffsetWriter(dst, data-off), io.NewSectionReader(src, data, hole-data)); err != nil {
			t.Fatal(err)
		}
		at = hole
	}
	return path
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if out, err := exec.Command("cp", "--sparse=always", from, to).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

// fsck runs e2fsck with args on img and returns its exit code and output.
func fsck(t *testing.T, img string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command("e2fsck", append(args, img)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	case err != nil:
		t.Fatalf("e2fsck: %v", err)
	}
	return 0, string(out)
}

// clean fails t unless e2fsck -fn finds nothing.
func clean(t *testing.T, img, when string) {
	t.Helper()
	if rc, out := fsck(t, img, "-fn"); rc != 0 {
		t.Fatalf("%s: e2fsck -fn exited %d:\n%s", when, rc, out)
	}
}

// diskfsFiles reads every file under dirs with go-diskfs, path → digest.
func diskfsFiles(t *testing.T, img string, dirs ...string) map[string]string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	fs, err := ext4.Read(file.New(f, true), fi.Size(), 0, 512)
	if err != nil {
		t.Fatalf("go-diskfs ext4.Read: %v", err)
	}
	got := map[string]string{}
	for _, d := range dirs {
		ents, err := fs.ReadDir(strings.TrimPrefix(d, "/"))
		if err != nil {
			t.Fatalf("go-diskfs ReadDir %s: %v", d, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			p := strings.TrimSuffix(d, "/") + "/" + e.Name()
			h, err := fs.OpenFile(strings.TrimPrefix(p, "/"), os.O_RDONLY)
			if err != nil {
				t.Fatalf("go-diskfs open %s: %v", p, err)
			}
			got[p] = diskfsDigest(t, h, p)
		}
	}
	return got
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// diskfsDigest hashes a go-diskfs file in 1 MiB reads, as compose/disk's
// verify does: go-diskfs v1.9.4's File.Read panics on a read that starts
// mid-block right after an extent ends (io.ReadAll's growing reads hit it
// on a file of several extents), block-aligned reads never do.
func diskfsDigest(t *testing.T, r io.Reader, p string) string {
	t.Helper()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			return hex.EncodeToString(h.Sum(nil))
		}
		if err != nil {
			t.Fatalf("go-diskfs read %s: %v", p, err)
		}
	}
}

// grubReads checks, with GRUB's own ext2 driver (grub-fstest), that each
// file of want reads as its bytes. GRUB never replays a journal.
func grubReads(t *testing.T, img string, want map[string][]byte, when string) {
	t.Helper()
	dir := t.TempDir()
	for p, b := range want {
		local := filepath.Join(dir, "want")
		if err := os.WriteFile(local, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("grub-fstest", img, "cmp", p, local).CombinedOutput(); err != nil {
			t.Fatalf("%s: GRUB reads %s differently: %v %s", when, p, err, out)
		}
	}
}

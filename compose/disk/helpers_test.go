package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/internal/zero"
)

func build(t *testing.T, spec Spec) (string, Result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "kit.img")
	r, err := Build(context.Background(), out, spec, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return out, r
}

// extract copies a partition into its own sparse file (fsck.fat and e2fsck
// take no offset), skipping zero blocks.
func extract(t *testing.T, img string, p Partition) string {
	t.Helper()
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	name := filepath.Join(t.TempDir(), "part"+strconv.Itoa(p.Index)+".img")
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := out.Truncate(p.Size); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < p.Size; off += int64(len(buf)) {
		n, err := in.ReadAt(buf[:min(int64(len(buf)), p.Size-off)], p.Offset+off)
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !zero.All(buf[:n]) {
			if _, err := out.WriteAt(buf[:n], off); err != nil {
				t.Fatal(err)
			}
		}
	}
	return name
}

// checkImage runs the independent checkers on every partition and reads
// every file back with tools that are not go-diskfs.
func checkImage(t *testing.T, img string, l Layout) {
	t.Helper()
	testenv.Tools(t, "sgdisk")
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v:\n%s", out)
	}
	for _, p := range l.Partitions {
		switch p.FS {
		case FSFAT32:
			checkFAT(t, img, p)
		case FSExt4:
			checkExt4(t, img, p)
		}
	}
}

func checkFAT(t *testing.T, img string, p Partition) {
	testenv.Tools(t, "fsck.fat")
	testenv.Tools(t, "mcopy")
	part := extract(t, img, p)
	out, err := exec.Command("fsck.fat", "-n", part).CombinedOutput()
	if err != nil || unexpectedLines(string(out)) {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	for _, f := range p.Files {
		dst := filepath.Join(t.TempDir(), "out")
		testenv.Run(t, "mcopy", "-n", "-i", img+"@@"+strconv.FormatInt(p.Offset, 10), "::"+f.Path, dst)
		compareFile(t, f, dst)
	}
}

func checkExt4(t *testing.T, img string, p Partition) {
	testenv.Tools(t, "e2fsck")
	testenv.Tools(t, "debugfs")
	part := extract(t, img, p)
	if out, err := exec.Command("e2fsck", "-fn", part).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
	for _, f := range p.Files {
		dst := filepath.Join(t.TempDir(), "out")
		testenv.Run(t, "debugfs", "-R", "dump "+f.Path+" "+dst, part)
		compareFile(t, f, dst)
	}
	os.Remove(part)
}

func compareFile(t *testing.T, f File, got string) {
	t.Helper()
	want := digestOf(t, f)
	g := fileDigest(t, got)
	if g != want {
		t.Fatalf("%s read back with sha256 %s, want %s", f.Path, g, want)
	}
	os.Remove(got)
}

func digestOf(t *testing.T, f File) string {
	if f.Source != "" {
		return fileDigest(t, f.Source)
	}
	if f.Open != nil {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	s := sha256.Sum256(f.Data)
	return hex.EncodeToString(s[:])
}

func fileDigest(t testing.TB, name string) string {
	t.Helper()
	fh, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// bigISO writes a sparse ISO just over 4 GiB: a 4 KiB pattern at each
// spot (its start, across the 4 GiB mark, its end), holes elsewhere.
func bigISO(t *testing.T) (path string, size int64, spots []int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "big.iso")
	size = 4*gib + mib + 3
	spots = []int64{0, 4*gib - 5, size - 4096}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, at := range spots {
		if _, err := f.WriteAt(pattern(4096, byte(at)), at); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, size, spots
}

// pattern returns n bytes that differ with seed and position.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31+i>>11) ^ seed
	}
	return b
}

// unexpectedLines: a clean fsck.fat -n prints its version and a summary
// only; anything else is a warning or an error.
func unexpectedLines(out string) bool {
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(l, "fsck.fat ") && !strings.Contains(l, " files, ") {
			return true
		}
	}
	return false
}

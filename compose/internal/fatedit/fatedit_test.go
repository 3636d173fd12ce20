package fatedit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

func content(tag string, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewSource(int64(len(tag)*7919 + n)))
	r.Read(b)
	copy(b, tag)
	return b
}

// espImage builds a GPT image with compose/disk and returns it and the
// ESP's offset and size.
func espImage(t *testing.T, dir string, files map[string][]byte) (string, int64, int64) {
	t.Helper()
	spec := disk.Spec{Size: 40 << 20, Seed: []byte("fatedit"), ESP: disk.ESP{Label: "TESTKIT"}}
	for p, b := range files {
		spec.ESP.Files = append(spec.ESP.Files, disk.File{Path: p, Data: b})
	}
	img := filepath.Join(dir, "kit.img")
	res, err := disk.Build(context.Background(), img, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Layout.Partition(disk.FSFAT32)
	return img, p.Offset, p.Size
}

// checkESP runs fsck.fat -n on the ESP of img and reads every file with
// mtools (an independent FAT reader), returning path → SHA-256.
func checkESP(t *testing.T, img string, off, size int64) map[string]string {
	t.Helper()
	esp := extract(t, img, off, size)
	if out, err := exec.Command("fsck.fat", "-n", esp).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	dir := t.TempDir()
	cmd := exec.Command("mcopy", "-s", "-n", "-i", esp, "::/", dir)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v\n%s", err, out)
	}
	got := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		sum := sha256.Sum256(data)
		got[strings.TrimPrefix(p, dir)] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// extract copies the ESP out of img, leaving all-zero blocks as holes.
func extract(t *testing.T, img string, off, size int64) string {
	t.Helper()
	src, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	path := filepath.Join(t.TempDir(), "esp.img")
	dst, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if err := dst.Truncate(size); err != nil {
		t.Fatal(err)
	}
	buf, zero := make([]byte, 64<<10), make([]byte, 64<<10)
	for o := int64(0); o < size; o += int64(len(buf)) {
		b := buf[:min(int64(len(buf)), size-o)]
		if _, err := src.ReadAt(b, off+o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, zero[:len(b)]) {
			if _, err := dst.WriteAt(b, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	return path
}

func digests(files map[string][]byte) map[string]string {
	m := map[string]string{}
	for p, b := range files {
		sum := sha256.Sum256(b)
		m[p] = hex.EncodeToString(sum[:])
	}
	return m
}

func sameTree(a, b map[string]string) bool {
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

// scenario is an old tree and the changes that make the new one.
func scenario() (old, next map[string][]byte, changes []edit.Change) {
	old = map[string][]byte{
		"/EFI/BOOT/BOOTX64.EFI":   content("shim", 300<<10),
		"/boot/grub/grub.cfg":     []byte("menuentry old {}\n"),
		"/boot/grub/compose.json": []byte(`{"old":true}`),
		"/isos/alpha.iso":         content("alpha", 1<<20),
		"/isos/beta.iso":          content("beta", 600<<10+17),
		"/isos/gamma.iso":         content("gamma", 700<<10),
	}
	next = map[string][]byte{}
	for p, b := range old {
		next[p] = b
	}
	set := func(p string, b []byte) {
		next[p] = b
		changes = append(changes, edit.Change{Path: p, Size: int64(len(b)), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		}})
	}
	set("/isos/beta.iso", content("beta2", 900<<10+3))
	set("/isos/a-rather-long-name-for-a-new-iso.iso", content("delta", 1<<20))
	set("/boot/grub/grub.cfg", []byte("menuentry new {}\n"))
	set("/boot/grub/compose.json", []byte(`{"new":true}`))
	set("/empty", nil)
	delete(next, "/isos/gamma.iso")
	changes = append(changes, edit.Change{Path: "/isos/gamma.iso", Remove: true})
	return old, next, changes
}

func update(t *testing.T, img string, off int64, changes []edit.Change, dev func(*os.File) fatedit.Device) (edit.Stats, error) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var d fatedit.Device = f
	if dev != nil {
		d = dev(f)
	}
	v, err := fatedit.Open(d, off)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return v.Update(context.Background(), changes, edit.Options{Chunk: 64 << 10})
}

func TestUpdateReplacesAddsRemoves(t *testing.T) {
	testenv.Tools(t, "fsck.fat", "mcopy")
	old, next, changes := scenario()
	img, off, size := espImage(t, t.TempDir(), old)
	if got := checkESP(t, img, off, size); !sameTree(got, digests(old)) {
		t.Fatalf("built tree differs: %v", got)
	}
	st, err := update(t, img, off, changes, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := checkESP(t, img, off, size); !sameTree(got, digests(next)) {
		t.Fatalf("after Update mtools reads %v\nwant %v", got, digests(next))
	}
	var content int64
	for _, c := range changes {
		content += c.Size
	}
	if st.Written < content || st.Written > content+2<<20 {
		t.Errorf("wrote %d bytes for %d bytes of new content", st.Written, content)
	}
	// Our own reader agrees, and a second, empty Update writes no content.
	f, _ := os.Open(img)
	defer f.Close()
	v, err := fatedit.Open(readOnly{f}, off)
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range v.Files() {
		b, err := v.ReadFile(fl.Path)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != digests(next)[fl.Path] {
			t.Errorf("%s read back differs", fl.Path)
		}
	}
}

type readOnly struct{ *os.File }

func (readOnly) WriteAt([]byte, int64) (int, error) { return 0, errors.New("read-only") }

// dying stops writing for good after n writes: the device state of a
// process killed between two writes. Later writes fail, as nothing runs
// after a kill.
type dying struct {
	*os.File
	n, writes int
	failed    bool
}

var errDead = errors.New("injected: process killed")

func (d *dying) WriteAt(b []byte, off int64) (int, error) {
	if d.writes >= d.n {
		d.failed = true
		return 0, errDead
	}
	d.writes++
	return d.File.WriteAt(b, off)
}

// TestUpdateSurvivesDeathAtEveryPhase stops the writer after n writes for
// 60 seeded values of n spread over a whole Update (content, directories,
// FSInfo, commit, FSInfo), then checks that fsck.fat -n is clean, that the
// volume holds the whole old tree or the whole new one, and that running
// Update again converges.
func TestUpdateSurvivesDeathAtEveryPhase(t *testing.T) {
	testenv.Tools(t, "fsck.fat", "mcopy")
	old, next, changes := scenario()
	dir := t.TempDir()
	pristine, off, size := espImage(t, dir, old)
	counter := &dying{n: 1 << 30}
	work := filepath.Join(dir, "work.img")
	copyFile(t, pristine, work)
	if _, err := update(t, work, off, changes, func(f *os.File) fatedit.Device { counter.File = f; return counter }); err != nil {
		t.Fatal(err)
	}
	total := counter.writes
	if total < 8 {
		t.Fatalf("a whole Update made only %d writes", total)
	}
	r := rand.New(rand.NewSource(15))
	points := []int{0, total - 1, total - 2, total - 3}
	for len(points) < 60 {
		points = append(points, r.Intn(total))
	}
	sort.Ints(points)
	oldSums, newSums := digests(old), digests(next)
	var sawOld, sawNew int
	for _, n := range points {
		copyFile(t, pristine, work)
		d := &dying{n: n}
		_, err := update(t, work, off, changes, func(f *os.File) fatedit.Device { d.File = f; return d })
		if !errors.Is(err, errDead) {
			t.Fatalf("death after %d of %d writes: Update returned %v", n, total, err)
		}
		switch got := checkESP(t, work, off, size); {
		case sameTree(got, oldSums):
			sawOld++
		case sameTree(got, newSums):
			sawNew++
		default:
			t.Fatalf("death after %d of %d writes left a mixed tree: %v", n, total, got)
		}
		if _, err := update(t, work, off, changes, nil); err != nil {
			t.Fatalf("rerun after death at %d: %v", n, err)
		}
		if got := checkESP(t, work, off, size); !sameTree(got, newSums) {
			t.Fatalf("rerun after death at %d did not converge: %v", n, got)
		}
	}
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("deaths left %d old and %d new trees; want both phases covered", sawOld, sawNew)
	}
	t.Logf("%d writes per Update; %d deaths left the old tree, %d the new", total, sawOld, sawNew)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	out, err := exec.Command("cp", "--sparse=always", from, to).CombinedOutput()
	if err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

func TestUpdateRefusesWhatDoesNotFit(t *testing.T) {
	testenv.Tools(t, "fsck.fat")
	old, _, _ := scenario()
	img, off, size := espImage(t, t.TempDir(), old)
	big := int64(60 << 20)
	_, err := update(t, img, off, []edit.Change{{Path: "/isos/huge.iso", Size: big, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(zeros{}, big)), nil
	}}}, nil)
	if !errors.Is(err, fatedit.ErrNoSpace) {
		t.Fatalf("got %v, want ErrNoSpace", err)
	}
	checkESP(t, img, off, size)
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// pointDirAt makes the directory entry named short (8.3, padded) in dir
// point at cluster c, as a crafted stick may.
func pointDirAt(t *testing.T, img string, off int64, dir, short string, c uint32) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := fatedit.Open(f, off)
	if err != nil {
		t.Fatal(err)
	}
	_, rel, n := v.DirAt(dir)
	buf, at := make([]byte, n), off+rel
	if _, err := f.ReadAt(buf, at); err != nil {
		t.Fatal(err)
	}
	for i := 0; i+32 <= len(buf); i += 32 {
		if string(buf[i:i+11]) == short {
			b := []byte{byte(c >> 16), byte(c >> 24), byte(c), byte(c >> 8)}
			f.WriteAt(b[:2], at+int64(i)+20)
			f.WriteAt(b[2:], at+int64(i)+26)
			return
		}
	}
	t.Fatalf("no entry %q in %s", short, dir)
}

// TestOpenRefusesDirectoryLoops: a subdirectory whose clusters are the
// root's or its parent's is a loop, refused at once. Found by the recheck
// pass: a kit's /compose pointed at the root cluster made fatedit.Open recurse
// into the root forever (11 GB in 2 s, deaf to Ctrl-C) in verify and plan.
func TestOpenRefusesDirectoryLoops(t *testing.T) {
	// A regression then fails at a 64 MiB stack, not at gigabytes.
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	for _, c := range []struct {
		name, parent, short, target, want string
	}{
		{"to the root", "/", "A          ", "/", "directory /a has the clusters of directory /"},
		{"to its parent", "/a", "B          ", "/a", "directory /a/b has the clusters of directory /a"},
		{"to a sibling", "/", "C          ", "/a", "directory /c has the clusters of directory /a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			img, off, _ := espImage(t, t.TempDir(), map[string][]byte{"/a/b/x": []byte("x"), "/c/y": []byte("y")})
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			v, err := fatedit.Open(readOnly{f}, off)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			target, _, _ := v.DirAt(c.target)
			pointDirAt(t, img, off, c.parent, c.short, target)
			f, _ = os.Open(img)
			defer f.Close()
			_, err = fatedit.Open(readOnly{f}, off)
			if !errors.Is(err, fatedit.ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Open: %v; want ErrMalformed: %s", err, c.want)
			}
		})
	}
}

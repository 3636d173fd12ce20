package ext4edit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path"
	"slices"
	"testing"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// journaled builds a compose/disk volume holding files and adds a journal.
func journaled(t *testing.T, size int64, files map[string][]byte) string {
	t.Helper()
	vol := dataVolume(t, size, files)
	addJournal(t, vol, 0, 1024)
	return vol
}

func open(t *testing.T, img string, dev func(*os.File) Device) (*Volume, func()) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	var d Device = f
	if dev != nil {
		d = dev(f)
	}
	v, err := Open(d, 0)
	if err != nil {
		f.Close()
		t.Fatalf("Open: %v", err)
	}
	return v, func() { f.Close() }
}

func update(t *testing.T, img string, changes []edit.Change, dev func(*os.File) Device) (edit.Stats, error) {
	t.Helper()
	return updateChunk(t, img, changes, dev, 64<<10)
}

func updateChunk(t *testing.T, img string, changes []edit.Change, dev func(*os.File) Device, chunk int) (edit.Stats, error) {
	t.Helper()
	v, done := open(t, img, dev)
	defer done()
	return v.Update(context.Background(), changes, edit.Options{Chunk: chunk, Time: testTime})
}

func put(p string, b []byte) edit.Change {
	return edit.Change{Path: p, Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// ownFiles reads every file with this package's reader.
func ownFiles(t *testing.T, img string) map[string]string {
	t.Helper()
	v, done := open(t, img, nil)
	defer done()
	got := map[string]string{}
	for _, f := range v.Files() {
		r, err := v.Open(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("reading %s: %v", f.Path, err)
		}
		got[f.Path] = digest(b)
	}
	return got
}

// debugfsFiles reads files with debugfs cat, an independent reader.
func debugfsFiles(t *testing.T, img string, paths map[string]string) map[string]string {
	t.Helper()
	got := map[string]string{}
	for p := range paths {
		out, err := exec.Command("debugfs", "-R", "cat "+p, img).Output()
		if err != nil {
			t.Fatalf("debugfs cat %s: %v", p, err)
		}
		got[p] = digest(out)
	}
	return got
}

// scenario is an old tree and the changes that make the new one.
func scenario() (old, next map[string][]byte, changes []edit.Change) {
	old = map[string][]byte{
		"/isos/alpha.iso": content("alpha", 1<<20),
		"/isos/beta.iso":  content("beta", 600<<10+17),
		"/isos/gamma.iso": content("gamma", 700<<10),
		"/keep/kept.bin":  content("kept", 50<<10+1),
	}
	next = map[string][]byte{}
	for p, b := range old {
		next[p] = b
	}
	set := func(p string, b []byte) {
		next[p] = b
		changes = append(changes, put(p, b))
	}
	changes = append(changes, edit.Change{Path: "/isos/beta.iso", Remove: true})
	set("/isos/beta.iso", content("beta2", 900<<10+3))
	set("/isos/a-rather-long-name-for-a-new-iso-image.iso", content("delta", 1<<20))
	set("/isos/empty.iso", nil)
	set("/newdir/sub/x.bin", content("x", 3000))
	delete(next, "/isos/gamma.iso")
	changes = append(changes, edit.Change{Path: "/isos/gamma.iso", Remove: true})
	return old, next, changes
}

func checkAll(t *testing.T, img string, want map[string][]byte, when string) {
	t.Helper()
	clean(t, img, when)
	checkCounts(t, img, when)
	grubReads(t, img, want, when)
	sums := digests(want)
	if got := ownFiles(t, img); !sameMap(got, sums) {
		t.Fatalf("%s: Open reads %v\nwant %v", when, got, sums)
	}
	if got := debugfsFiles(t, img, sums); !sameMap(got, sums) {
		t.Fatalf("%s: debugfs reads %v\nwant %v", when, got, sums)
	}
	dirs := map[string]bool{}
	for p := range want {
		dirs[path.Dir(p)] = true
	}
	if got := diskfsFiles(t, img, slices.Collect(maps.Keys(dirs))...); !sameMap(got, sums) {
		t.Fatalf("%s: go-diskfs reads %v\nwant %v", when, got, sums)
	}
}

func TestUpdateReplacesAddsRemoves(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs", "grub-fstest")
	for _, size := range []int64{64 << 20, 600 << 20} { // 1 KiB and 4 KiB blocks
		t.Run(fmt.Sprintf("%dMiB", size>>20), func(t *testing.T) { testReplacesAddsRemoves(t, size) })
	}
}

func testReplacesAddsRemoves(t *testing.T, size int64) {
	old, next, changes := scenario()
	img := journaled(t, size, old)
	checkAll(t, img, old, "before")
	st, err := update(t, img, changes, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, img, next, "after Update")
	var n int64
	for _, c := range changes {
		n += c.Size
	}
	if st.Written < n || st.Written > n+1<<20 {
		t.Errorf("wrote %d bytes for %d of content", st.Written, n)
	}
	if st.SHA256["/isos/beta.iso"] != digest(next["/isos/beta.iso"]) {
		t.Errorf("edit.Stats digest of beta.iso is %s", st.SHA256["/isos/beta.iso"])
	}
	// Another new directory, and adding what exists is refused.
	next["/new/dir/x.bin"] = content("x", 5000)
	if _, err := update(t, img, []edit.Change{put("/new/dir/x.bin", next["/new/dir/x.bin"])}, nil); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after mkdir")
	if got := ownFiles(t, img); !sameMap(got, digests(next)) {
		t.Fatalf("after mkdir Open reads %v", got)
	}
	if _, err := update(t, img, []edit.Change{put("/isos/alpha.iso", []byte("x"))}, nil); err == nil {
		t.Error("adding an existing path succeeded")
	}
}

func TestUpdateRefusesWhatDoesNotFit(t *testing.T) {
	testenv.Tools(t, "e2fsck")
	old, _, _ := scenario()
	img := journaled(t, 64<<20, old)
	big := int64(70 << 20)
	_, err := update(t, img, []edit.Change{{Path: "/isos/huge.iso", Size: big, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(zeros{}, big)), nil
	}}}, nil)
	if !errors.Is(err, ErrNoSpace) {
		t.Fatalf("got %v, want ErrNoSpace", err)
	}
	clean(t, img, "after a refused Update")
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// checkCounts compares the superblock's and the group descriptors' free
// block and inode counts with the bitmaps: e2fsck -n does not fail on a
// wrong superblock total.
func checkCounts(t *testing.T, img, when string) {
	t.Helper()
	v, done := open(t, img, nil)
	defer done()
	sb := v.m.sb()
	sbBlocks := int64(le.Uint32(sb[sbFreeBlocks:])) | int64(le.Uint32(sb[sbFreeBlocksHi:]))<<32
	sbInodes := int64(le.Uint32(sb[sbFreeInodes:]))
	var bits, ibits, descBlocks, descInodes int64
	for grp := int64(0); grp < v.g.Groups; grp++ {
		d, _ := v.m.desc(grp)
		fb := int64(le.Uint16(d[0x0c:])) | int64(le.Uint16(d[0x2c:]))<<16
		fi := int64(le.Uint16(d[0x0e:])) | int64(le.Uint16(d[0x2e:]))<<16
		bm, _, _, err := v.m.bitmap(grp, false)
		if err != nil {
			t.Fatal(err)
		}
		im, _, _, err := v.m.bitmap(grp, true)
		if err != nil {
			t.Fatal(err)
		}
		var gb, gi int64
		for i := int64(0); i < min(v.g.PerGroup, v.g.Blocks-v.g.FirstData-grp*v.g.PerGroup); i++ {
			if !bit(bm, i) {
				gb++
			}
		}
		for i := int64(0); i < v.g.InodesPerGroup; i++ {
			if !bit(im, i) {
				gi++
			}
		}
		if gb != fb || gi != fi {
			t.Fatalf("%s: group %d says %d free blocks and %d free inodes, its bitmaps %d and %d", when, grp, fb, fi, gb, gi)
		}
		bits, ibits, descBlocks, descInodes = bits+gb, ibits+gi, descBlocks+fb, descInodes+fi
	}
	if sbBlocks != bits || sbInodes != ibits {
		t.Fatalf("%s: superblock says %d free blocks and %d free inodes, the bitmaps %d and %d", when, sbBlocks, sbInodes, bits, ibits)
	}
}

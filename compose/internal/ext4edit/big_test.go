package ext4edit

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/internal/zero"
)

// skipZeros drops all-zero writes: on a fresh sparse image the free
// blocks are holes, which read as zeros already, so a file that is mostly
// zeros costs no disk.
type skipZeros struct{ *os.File }

func (s skipZeros) WriteAt(b []byte, off int64) (int, error) {
	if zero.All(b) {
		return len(b), nil
	}
	return s.File.WriteAt(b, off)
}

// markedReader yields size bytes of zeros but for marks at given offsets.
type markedReader struct {
	off, size int64
	marks     map[int64][]byte
}

func (r *markedReader) Read(b []byte) (int, error) {
	if r.off >= r.size {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), r.size-r.off)]
	clear(b)
	for at, m := range r.marks {
		for i, c := range m {
			if p := at + int64(i) - r.off; p >= 0 && p < int64(len(b)) {
				b[p] = c
			}
		}
	}
	r.off += int64(len(b))
	return len(b), nil
}

func (r *markedReader) Close() error { return nil }

// TestUpdateMultiGiBFile adds a 4.5 GiB file (past 4 GiB: i_size_high,
// many 32768-block extents in a leaf) to a 6 GiB volume with 4 KiB blocks,
// then removes it.
func TestUpdateMultiGiBFile(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs")
	img := journaled(t, 6<<30, map[string][]byte{"/isos/small.iso": content("small", 5000)})
	size := int64(4<<30 + 512<<20 + 123)
	marks := map[int64][]byte{1: []byte("start"), 4<<30 - 2: []byte("across-4GiB"), size - 3: []byte("end")}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(skipZeros{f}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Update(t.Context(), []edit.Change{{Path: "/isos/big.iso", Size: size, Open: func() (io.ReadCloser, error) {
		return &markedReader{size: size, marks: marks}, nil
	}}}, edit.Options{Time: testTime})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after adding 4.5 GiB")
	checkCounts(t, img, "after adding 4.5 GiB")
	if out := testenv.Run(t, "debugfs", "-R", "stat /isos/big.iso", img); !strings.Contains(out, "Size: 4831838331") {
		t.Fatalf("debugfs stat:\n%s", out)
	}
	g, done := open(t, img, nil)
	r, err := g.Open("/isos/big.iso")
	if err != nil {
		t.Fatal(err)
	}
	ino, _ := g.m.inode(g.lookup("/isos/big.iso").ino)
	if exts, tree, err := g.m.extents(ino); err != nil || len(exts) < 36 || len(tree) != 1 {
		t.Fatalf("big.iso: %d extents in %d leaves (%v)", len(exts), len(tree), err)
	}
	for at, m := range marks {
		got := make([]byte, len(m)+2)
		n, _ := r.ReadAt(got, at-1)
		if want := append(append([]byte{0}, m...), 0); !bytes.Equal(got[:n], want[:n]) || n < len(m)+1 {
			t.Errorf("Open reads %q at %d", got[:n], at-1)
		}
	}
	done()
	fs, err := ext4.Read(file.New(mustOpen(t, img), true), fileSize(t, img), 0, 512)
	if err != nil {
		t.Fatal(err)
	}
	h, err := fs.OpenFile("isos/big.iso", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	if _, err := h.Seek(4<<30-4096, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(h, buf); err != nil || !bytes.Equal(buf[4094:], []byte("ac")) {
		t.Fatalf("go-diskfs reads %q before 4 GiB (%v)", buf[4090:], err)
	}
	if _, err := update(t, img, []edit.Change{{Path: "/isos/big.iso", Remove: true}}, nil); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after removing 4.5 GiB")
	checkCounts(t, img, "after removing 4.5 GiB")
}

func mustOpen(t *testing.T, p string) *os.File {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestUpdateLongRunsOneKiB adds a 100 MiB file to a volume with 1 KiB
// blocks (compose/disk's choice below 512 MiB), where the free space runs
// on across block groups for more than 32768 blocks: the longest extent
// an ext4 leaf can hold initialized (a longer one reads as unwritten).
// Every leaf must stay within it, e2fsck must accept the volume and
// debugfs read the file back (F9's check of the converge path).
func TestUpdateLongRunsOneKiB(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs")
	img := journaled(t, 256<<20, map[string][]byte{"/isos/small.iso": content("small", 5000)})
	g, done := open(t, img, nil)
	bs := g.g.BlockSize
	done()
	if bs != 1024 {
		t.Fatalf("the volume has %d-byte blocks, want 1024", bs)
	}
	big := content("big", 100<<20+5)
	if _, err := updateChunk(t, img, []edit.Change{put("/isos/big.iso", big)}, nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after adding 100 MiB")
	checkCounts(t, img, "after adding 100 MiB")
	v, done := open(t, img, nil)
	ino, _ := v.m.inode(v.lookup("/isos/big.iso").ino)
	exts, _, err := v.m.extents(ino)
	done()
	if err != nil {
		t.Fatal(err)
	}
	longest := int64(0)
	for _, e := range exts {
		if e.uninit || e.n > maxExtent {
			t.Fatalf("extent at file block %d: %d blocks, uninit %t", e.logical, e.n, e.uninit)
		}
		longest = max(longest, e.n)
	}
	if longest != maxExtent {
		t.Errorf("the longest extent has %d blocks: the free space never ran past 32768, so the case tests nothing", longest)
	}
	if got := debugfsFiles(t, img, map[string]string{"/isos/big.iso": ""}); got["/isos/big.iso"] != digest(big) {
		t.Fatal("debugfs reads big.iso differently")
	}
}

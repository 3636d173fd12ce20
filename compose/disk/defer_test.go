package disk

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestDeferAllocatesOnly builds a kit with Spec.Defer: the image holds the
// metadata only (far less allocated than the ISOs), every host file has
// extents covering exactly its size, and once the sources are copied into
// those extents the image passes fsck.fat, e2fsck and a full Verify.
func TestDeferAllocatesOnly(t *testing.T) {
	dir := t.TempDir()
	src := func(name string, size int64, seed byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pattern(int(size), seed), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fatISO, extISO := src("a.iso", 24*mib+5, 1), src("b.iso", 40*mib+4097, 2)
	spec := espSpec(File{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")})
	spec.ISOs = []File{{Path: "/isos/a.iso", Source: fatISO, Size: 24*mib + 5}}
	spec.Data.Files = []File{{Path: "/isos/b.iso", Source: extISO, Size: 40*mib + 4097}}
	spec.Defer, spec.Verify = true, true
	img, r := build(t, spec)
	if n := allocated(t, img); n > 8*mib {
		t.Errorf("deferred image has %d bytes allocated, want metadata only (< 8 MiB)", n)
	}
	deferred := 0
	for _, f := range r.Files {
		if f.Source == "" {
			continue
		}
		deferred++
		if !f.Deferred || lengths(f.Extents) != f.Size {
			t.Fatalf("%s: deferred %v, extents cover %d of %d bytes", f.Path, f.Deferred, lengths(f.Extents), f.Size)
		}
		fill(t, img, f)
	}
	if deferred != 2 {
		t.Fatalf("%d deferred files, want 2", deferred)
	}
	checkImage(t, img, r.Layout)
	if err := Verify(context.Background(), img, r.Layout, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

func lengths(ext []Extent) int64 {
	var n int64
	for _, e := range ext {
		n += e.Length
	}
	return n
}

// fill copies a deferred file's source into its extents, as a device
// writer would.
func fill(t *testing.T, img string, f Placed) {
	t.Helper()
	b, err := os.ReadFile(f.Source)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for _, e := range f.Extents {
		if _, err := out.WriteAt(b[:e.Length], e.Offset); err != nil {
			t.Fatal(err)
		}
		b = b[e.Length:]
	}
}

// allocated is the bytes the file holds on disk (st_blocks).
func allocated(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		t.Skip("no st_blocks here")
	}
	return sys.Blocks * 512
}

// TestDeferBigExt4 defers an ISO over 4 GiB (sparse, data at its start,
// across the 4 GiB mark and at its end) on ext4: its extent tree has index
// nodes, and the extents read back from it must put every byte where
// e2fsck and debugfs find it.
func TestDeferBigExt4(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "reads back a 4 GiB file; skipped with -short")
	}
	big, size, spots := bigISO(t)
	spec := espSpec(File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: pattern(1000, 1)})
	spec.ISOs = []File{{Path: "/isos/big.iso", Source: big, Size: size}}
	spec.Defer, spec.Verify = true, true
	img, r := build(t, spec)
	if n := allocated(t, img); n > 8*mib {
		t.Errorf("deferred image has %d bytes allocated, want metadata only", n)
	}
	var p Placed
	for _, x := range r.Files {
		if x.Deferred {
			p = x
		}
	}
	if p.Path != "/isos/big.iso" || lengths(p.Extents) != size || len(p.Extents) < 2 {
		t.Fatalf("deferred %+v", p)
	}
	out, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range spots {
		writeAtFile(t, out, p.Extents, pattern(4096, byte(at)), at)
	}
	out.Close()
	// e2fsck on the partition, copied by dd (reading the image's holes in
	// Go would take minutes under -race), then each spot read back through
	// go-diskfs's own extent code.
	testenv.Tools(t, "dd", "e2fsck")
	data := r.Layout.Partition(FSExt4)
	part := filepath.Join(t.TempDir(), "data.img")
	testenv.Run(t, "dd", "if="+img, "of="+part, "bs=4M", "iflag=skip_bytes,count_bytes", "conv=sparse",
		"skip="+strconv.FormatInt(data.Offset, 10), "count="+strconv.FormatInt(data.Size, 10), "status=none")
	testenv.Run(t, "e2fsck", "-fn", part)
	fs, err := ext4.Read(file.New(mustOpen(t, img), true), data.Size, data.Offset, sectorSize)
	if err != nil {
		t.Fatal(err)
	}
	h, err := fs.OpenFile("isos/big.iso", os.O_RDONLY)
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range spots {
		got := make([]byte, 4096)
		h.Seek(at, io.SeekStart)
		if _, err := io.ReadFull(h, got); err != nil || !bytes.Equal(got, pattern(4096, byte(at))) {
			t.Fatalf("bytes at %d read back wrong (%v)", at, err)
		}
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// writeAtFile writes b at file offset off through the file's extents.
func writeAtFile(t *testing.T, out *os.File, ext []Extent, b []byte, off int64) {
	t.Helper()
	var base int64
	for _, e := range ext {
		for len(b) > 0 && off >= base && off < base+e.Length {
			n := min(int64(len(b)), base+e.Length-off)
			if _, err := out.WriteAt(b[:n], e.Offset+off-base); err != nil {
				t.Fatal(err)
			}
			b, off = b[n:], off+n
		}
		base += e.Length
	}
	if len(b) > 0 {
		t.Fatalf("%d bytes past the extents", len(b))
	}
}

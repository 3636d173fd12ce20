package wim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestSplitTableQuirks splits a WIM whose lookup table carries the entries
// real WIMs have and readers ignore: a duplicate of a blob (same hash,
// same resource), an unreferenced metadata entry (as in WAIK's WinPE
// WIMs), an all-zero hash, an empty blob and another part's entry. wimlib
// reads the doctored source; the parts leave those entries out, and
// wimverify and wimapply --ref accept them with every image's files.
func TestSplitTableQuirks(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend", "wiminfo", "wimverify", "wimapply")
	dir := t.TempDir()
	trees := []string{filepath.Join(dir, "t1"), filepath.Join(dir, "t2")}
	makeTree(t, trees[0], 31, 20)
	makeTree(t, trees[1], 32, 12)
	src := filepath.Join(dir, "install.wim")
	capture(t, src, "lzx", trees)
	info := openInfo(t, src)
	table := readTable(t, src, &info.Header)
	var data, meta BlobEntry
	for _, e := range table {
		if e.Metadata() {
			meta = e
		} else {
			data = e
		}
	}
	unref := meta
	unref.RefCount = 0
	zeroHash := data
	zeroHash.Hash = [20]byte{}
	empty := BlobEntry{Res: ResHdr{Offset: HeaderSize}, PartNumber: 1, RefCount: 1, Hash: [20]byte{1}}
	otherPart := data
	otherPart.PartNumber, otherPart.Hash = 2, [20]byte{2}
	extra := []BlobEntry{data, unref, zeroHash, empty, otherPart}
	appendEntries(t, src, &info.Header, table, extra)
	testenv.Run(t, "wiminfo", src)
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	st, _ := os.Stat(src)
	paths, err := Split(src, out, "install.swm", st.Size()/2)
	if err != nil {
		t.Fatal(err)
	}
	entries := 0
	for _, p := range paths {
		h := openInfo(t, p).Header
		entries += len(readTable(t, p, &h))
	}
	if entries != len(table) {
		t.Errorf("the parts list %d entries, the source %d usable ones (and %d to ignore)", entries, len(table), len(extra))
	}
	ref := "--ref=" + filepath.Join(out, "install*.swm")
	testenv.Run(t, "wimverify", paths[0], ref)
	for img := 1; img <= 2; img++ {
		got := filepath.Join(dir, fmt.Sprint("got", img))
		testenv.Run(t, "wimapply", paths[0], fmt.Sprint(img), got, ref)
		sameTree(t, trees[img-1], got)
	}
}

// appendEntries rewrites the WIM's lookup table with extra entries at its
// end: the new table goes after the file's end, the header points to it
// and loses its integrity table.
func appendEntries(t *testing.T, path string, h *Header, table, extra []BlobEntry) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]BlobEntry{}, table...), extra...)
	tb := make([]byte, len(all)*blobEntrySize)
	for i := range all {
		all[i].put(tb[i*blobEntrySize:])
	}
	nh := *h
	nh.BlobTable = ResHdr{StoredSize: uint64(len(tb)), Flags: ResMetadata, Offset: uint64(len(b)), OrigSize: uint64(len(tb))}
	nh.Integrity = ResHdr{}
	b = append(b, tb...)
	copy(b, nh.encode())
	if !bytes.Equal(b[:8], []byte(Magic)) {
		t.Fatal("bad header")
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

package wim

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestSplitAgainstWimlib splits WIMs wimcapture built (three images, each
// compression kind, with and without an integrity table) into at least
// three parts and has wimlib check them: wiminfo reads each part, wimverify
// and wiminfo --check accept the set, and wimapply --ref extracts every
// image to the same files as from the unsplit WIM.
func TestSplitAgainstWimlib(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend", "wiminfo", "wimverify", "wimapply")
	dir := t.TempDir()
	var trees []string
	for i := range 3 {
		tree := filepath.Join(dir, fmt.Sprintf("tree%d", i))
		makeTree(t, tree, uint64(10+i), 16+4*i)
		trees = append(trees, tree)
	}
	// Parts over 10 MiB get integrity tables of several chunks.
	big := filepath.Join(dir, "big")
	os.MkdirAll(big, 0o755)
	for i := range 3 {
		os.WriteFile(filepath.Join(big, fmt.Sprint(i)), randBytes(rand.New(rand.NewPCG(uint64(i), 2)), 9<<20), 0o644)
	}
	for _, tc := range []struct {
		compress string
		extra    []string
		big      bool
	}{
		{"none", nil, false},
		{"xpress", nil, false},
		{"lzx", nil, false},
		{"lzx", []string{"--check"}, false},
		{"none", []string{"--check"}, true},
	} {
		name := tc.compress + strings.Join(tc.extra, "")
		trees := trees
		if tc.big {
			trees = append(slices.Clone(trees), big)
		}
		t.Run(name, func(t *testing.T) {
			work := filepath.Join(dir, name)
			os.MkdirAll(work, 0o755)
			src := filepath.Join(work, "install.wim")
			capture(t, src, tc.compress, trees, tc.extra...)
			st, _ := os.Stat(src)
			maxPart := st.Size()/3 + 1<<10
			paths, err := Split(src, work, "install.swm", maxPart)
			if err != nil {
				t.Fatal(err)
			}
			if len(paths) < 3 {
				t.Fatalf("%d parts of at most %d bytes from %d bytes", len(paths), maxPart, st.Size())
			}
			checkParts(t, src, paths, maxPart)
			ref := filepath.Join(work, "install*.swm")
			testenv.Run(t, "wimverify", paths[0], "--ref="+ref)
			if len(tc.extra) > 0 {
				for _, p := range paths {
					out := testenv.Run(t, "wiminfo", p, "--check")
					if !strings.Contains(out, "Integrity info") {
						t.Errorf("%s: wiminfo shows no integrity table:\n%s", p, out)
					}
				}
			}
			for img := 1; img <= len(trees); img++ {
				want, got := filepath.Join(work, fmt.Sprint("want", img)), filepath.Join(work, fmt.Sprint("got", img))
				testenv.Run(t, "wimapply", src, fmt.Sprint(img), want)
				testenv.Run(t, "wimapply", paths[0], fmt.Sprint(img), got, "--ref="+ref)
				sameTree(t, want, got)
				sameTree(t, trees[img-1], got)
			}
		})
	}
}

// checkParts checks each part's header and lookup table as the format
// requires: same GUID, part k of n, spanned, at most maxPart bytes, the
// metadata only in part 1, each table listing only its own part's blobs,
// together every blob of the source once, XML in every part.
func checkParts(t *testing.T, src string, paths []string, maxPart int64) {
	t.Helper()
	srcInfo := openInfo(t, src)
	for k, p := range paths {
		info := openInfo(t, p)
		h := info.Header
		st, _ := os.Stat(p)
		if st.Size() > maxPart {
			t.Errorf("%s: %d bytes, over %d", p, st.Size(), maxPart)
		}
		if h.GUID != srcInfo.Header.GUID || int(h.PartNumber) != k+1 || int(h.TotalParts) != len(paths) {
			t.Errorf("%s: GUID %x part %d/%d, want %x %d/%d", p, h.GUID, h.PartNumber, h.TotalParts, srcInfo.Header.GUID, k+1, len(paths))
		}
		if h.Flags&FlagSpanned == 0 || h.Compression() != srcInfo.Header.Compression() || h.ChunkSize != srcInfo.Header.ChunkSize || h.ImageCount != srcInfo.Header.ImageCount {
			t.Errorf("%s: header %+v, source %+v", p, h, srcInfo.Header)
		}
		if len(info.Images) != len(srcInfo.Images) || info.Images[0].Name != srcInfo.Images[0].Name {
			t.Errorf("%s: XML images %+v", p, info.Images)
		}
	}
	checkPartTables(t, src, paths)
}

// checkPartTables checks the parts' lookup tables: the metadata only in
// part 1, each listing only its own part's blobs, together every blob of
// the source once.
func checkPartTables(t *testing.T, src string, paths []string) {
	t.Helper()
	srcInfo := openInfo(t, src)
	srcTable := readTable(t, src, &srcInfo.Header)
	var hashes [][20]byte
	for k, p := range paths {
		h := openInfo(t, p).Header
		for _, e := range readTable(t, p, &h) {
			if int(e.PartNumber) != k+1 {
				t.Errorf("%s: entry names part %d", p, e.PartNumber)
			}
			if e.Metadata() != (k == 0 && len(hashes) < int(h.ImageCount)) {
				t.Errorf("%s: metadata entry %v out of place", p, e.Metadata())
			}
			hashes = append(hashes, e.Hash)
		}
	}
	var want [][20]byte
	for _, e := range srcTable {
		want = append(want, e.Hash)
	}
	cmpHash := func(a, b [20]byte) int { return bytes.Compare(a[:], b[:]) }
	slices.SortFunc(want, cmpHash)
	slices.SortFunc(hashes, cmpHash)
	if !slices.Equal(want, hashes) {
		t.Errorf("parts list %d blobs, source %d", len(hashes), len(want))
	}
}

func readTable(t *testing.T, path string, h *Header) []BlobEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	entries, err := ReadBlobTable(f, st.Size(), h)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return entries
}

// sameTree fails t unless the trees hold the same files with the same bytes.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			m[rel] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	w, g := files(want), files(got)
	if len(w) != len(g) {
		t.Errorf("%s has %d files, %s %d", got, len(g), want, len(w))
	}
	for name, b := range w {
		if !bytes.Equal(b, g[name]) {
			t.Errorf("%s: %s differs from %s", got, name, want)
		}
	}
}

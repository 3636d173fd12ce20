package wim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestSplitRefuses: a WIM that cannot be split is an error that says why,
// and Split leaves no file behind.
func TestSplitRefuses(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend", "wimsplit")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, 7, 12)
	os.WriteFile(filepath.Join(tree, "big.bin"), bytes.Repeat([]byte{1, 2, 3}, 200_000), 0o644)
	solid := filepath.Join(dir, "solid.esd")
	capture(t, solid, "lzms", []string{tree}, "--solid")
	lzms := filepath.Join(dir, "lzms.wim")
	capture(t, lzms, "lzms", []string{tree})
	plain := filepath.Join(dir, "plain.wim")
	capture(t, plain, "none", []string{tree})
	testenv.Run(t, "wimsplit", plain, filepath.Join(dir, "already.swm"), "0.5")
	for _, tc := range []struct {
		name, src string
		max       int64
		want      error
		msg       string
	}{
		{"solid", solid, MaxFAT32File, ErrUnsupported, "solid (ESD/LZMS)"},
		{"lzms", lzms, MaxFAT32File, ErrUnsupported, "solid (ESD/LZMS)"},
		{"already split", filepath.Join(dir, "already.swm"), MaxFAT32File, ErrUnsupported, "already part 1 of"},
		{"resource too large", plain, 500_000, ErrUnsupported, "does not fit in a part of 500000 bytes"},
		{"metadata too large", plain, 2_000, ErrUnsupported, "part 1 needs"},
		{"not a WIM", filepath.Join(tree, "d0", "e0", "f000.bin"), MaxFAT32File, ErrNotWIM, "magic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "out-"+strings.ReplaceAll(tc.name, " ", "-"))
			os.MkdirAll(out, 0o755)
			_, err := Split(tc.src, out, "install.swm", tc.max)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.src) {
				t.Fatalf("err = %v, want %v naming %s and saying %q", err, tc.want, tc.src, tc.msg)
			}
			if left, _ := os.ReadDir(out); len(left) != 0 {
				t.Errorf("left %v behind", left)
			}
		})
	}
}

// TestSplitFailureLeavesNothing: a source that fails while the last part
// is written leaves no part behind, not even the parts written before.
func TestSplitFailureLeavesNothing(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, 8, 20)
	src := filepath.Join(dir, "install.wim")
	capture(t, src, "none", []string{tree})
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	plan, err := PlanSplit(f, st.Size(), st.Size()/3, "install.swm")
	if err != nil {
		t.Fatal(err)
	}
	last := plan.Parts[len(plan.Parts)-1].Pieces[1].SrcOffset
	out := filepath.Join(dir, "out")
	os.MkdirAll(out, 0o755)
	_, err = splitTo(failAfter{f, last}, st.Size(), out, "install.swm", st.Size()/3)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("reading the WIM at offset %d", last)) {
		t.Fatalf("split from a source failing at %d: %v", last, err)
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("left %v behind", left)
	}
}

// failAfter fails the read that starts at off (a resource's first).
type failAfter struct {
	r   io.ReaderAt
	off int64
}

func (f failAfter) ReadAt(b []byte, off int64) (int, error) {
	if off == f.off {
		return 0, errors.New("injected read error")
	}
	return f.r.ReadAt(b, off)
}

// TestPlanSizesExact: the plan knows each part's size before a byte is
// written, and WritePart writes exactly that; part names follow Windows
// Setup's install.swm, install2.swm, … rule.
func TestPlanSizesExact(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, 9, 40)
	src := filepath.Join(dir, "install.wim")
	capture(t, src, "lzx", []string{tree, tree}, "--check")
	f, _ := os.Open(src)
	defer f.Close()
	st, _ := f.Stat()
	for _, max := range []int64{st.Size() / 2, st.Size() * 2 / 3, st.Size(), MaxFAT32File} {
		plan, err := PlanSplit(f, st.Size(), max, "install.swm")
		if err != nil {
			t.Fatal(err)
		}
		for i, part := range plan.Parts {
			if want := PartName("install.swm", i+1); part.Name != want {
				t.Errorf("part %d named %q, want %q", i+1, part.Name, want)
			}
			var n countWriter
			if err := plan.WritePart(&n, f, i); err != nil {
				t.Fatal(err)
			}
			if int64(n) != part.Size || part.Size > max {
				t.Errorf("max %d part %d: wrote %d, planned %d", max, i+1, n, part.Size)
			}
			// Back-to-back resources are one read: at most the data and
			// the metadata of each image, and the XML.
			reads := 0
			for _, p := range part.Pieces {
				if p.Kind == FromSource {
					reads++
				}
			}
			if reads > 2*int(plan.Source.ImageCount)+1 {
				t.Errorf("max %d part %d: %d source reads in %d pieces", max, i+1, reads, len(part.Pieces))
			}
		}
		if max == MaxFAT32File && len(plan.Parts) != 1 {
			t.Errorf("a %d-byte WIM in %d parts", st.Size(), len(plan.Parts))
		}
	}
	if got := PartName("install.swm", 12); got != "install12.swm" {
		t.Errorf("PartName 12 = %q", got)
	}
}

type countWriter int64

func (c *countWriter) Write(b []byte) (int, error) { *c += countWriter(len(b)); return len(b), nil }

// TestSplitLikeWimsplit compares our parts' headers with wimsplit's for the
// same bootable WIM, split in several parts and in one: the same version,
// flags, chunk size, image count, boot index and boot metadata, and
// resource flags in every part, and wimlib's own parts pass the same
// structural checks ours do.
func TestSplitLikeWimsplit(t *testing.T) {
	testenv.Tools(t, "wimcapture", "wimappend", "wimsplit", "wimverify")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	makeTree(t, tree, 11, 60)
	for _, compress := range []string{"none", "lzx"} {
		src := filepath.Join(dir, compress+".wim")
		capture(t, src, compress, []string{tree, tree + "/d1"}, "--check")
		testenv.Run(t, "wiminfo", src, "2", "--boot")
		for _, tc := range []struct {
			name      string
			mib       string
			ourMax    int64
			wantParts int
		}{{"parts", "1", 1 << 20, 2}, {"one", "1000", MaxFAT32File, 1}} {
			theirs := filepath.Join(dir, compress+tc.name+"-theirs")
			ours := filepath.Join(dir, compress+tc.name+"-ours")
			os.MkdirAll(theirs, 0o755)
			os.MkdirAll(ours, 0o755)
			testenv.Run(t, "wimsplit", src, filepath.Join(theirs, "install.swm"), tc.mib)
			theirParts, _ := filepath.Glob(filepath.Join(theirs, "install*.swm"))
			ourParts, err := Split(src, ours, "install.swm", tc.ourMax)
			if err != nil {
				t.Fatal(err)
			}
			if len(theirParts) < tc.wantParts || len(ourParts) < tc.wantParts || (tc.wantParts == 1 && len(ourParts) != 1) {
				t.Fatalf("%s %s: wimsplit made %d parts, Split %d", compress, tc.name, len(theirParts), len(ourParts))
			}
			testenv.Run(t, "wimverify", ourParts[0], "--ref="+filepath.Join(ours, "install*.swm"))
			for i, p := range ourParts {
				sameHeader(t, fmt.Sprintf("%s %s part %d", compress, tc.name, i+1), openInfo(t, p).Header, openInfo(t, theirParts[min(i, len(theirParts)-1)]).Header)
			}
			checkPartTables(t, src, theirParts)
			if h := openInfo(t, ourParts[0]).Header; tc.wantParts == 1 {
				if table := readTable(t, ourParts[0], &h); h.BootIndex != 2 || h.BootMetadata != table[1].Res {
					t.Errorf("%s: boot index %d, boot metadata %+v, image 2's metadata %+v", ourParts[0], h.BootIndex, h.BootMetadata, table[1].Res)
				}
			}
		}
	}
}

func sameHeader(t *testing.T, what string, o, w Header) {
	t.Helper()
	for _, f := range []struct {
		what       string
		ours, them any
	}{
		{"version", o.Version, w.Version}, {"flags", o.Flags, w.Flags}, {"chunk size", o.ChunkSize, w.ChunkSize},
		{"image count", o.ImageCount, w.ImageCount}, {"boot index", o.BootIndex, w.BootIndex},
		{"boot metadata size", o.BootMetadata.StoredSize, w.BootMetadata.StoredSize},
		{"lookup table flags", o.BlobTable.Flags, w.BlobTable.Flags}, {"XML flags", o.XML.Flags, w.XML.Flags},
		{"integrity table", o.Integrity.StoredSize > 0, w.Integrity.StoredSize > 0},
	} {
		if fmt.Sprint(f.ours) != fmt.Sprint(f.them) {
			t.Errorf("%s: %s %v, wimsplit %v", what, f.what, f.ours, f.them)
		}
	}
}

package ext4edit

import (
	"fmt"
	"io"
	"testing"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestUpdateFragmented fills a volume, frees every other small file, and
// adds a file only the holes can take: it needs more than the 4 extents an
// inode holds, so a depth-1 tree with a leaf block. Then it removes it
// again, which must free the leaf too.
func TestUpdateFragmented(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs")
	files := map[string][]byte{}
	for i := 0; i < 40; i++ {
		files[fmt.Sprintf("/isos/f%02d.bin", i)] = content(fmt.Sprintf("f%02d", i), 20<<10)
	}
	img := journaled(t, 64<<20, files)
	v, done := open(t, img, nil)
	fill := v.Free() - 300<<10
	done()
	changes := []edit.Change{{Path: "/isos/fill.bin", Size: fill, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(io.LimitReader(zeros{}, fill)), nil
	}}}
	for i := 0; i < 40; i += 2 {
		p := fmt.Sprintf("/isos/f%02d.bin", i)
		delete(files, p)
		changes = append(changes, edit.Change{Path: p, Remove: true})
	}
	if _, err := updateChunk(t, img, changes, nil, 1<<20); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after filling")
	frag := content("frag", 360<<10+9)
	files["/isos/frag.iso"] = frag
	if _, err := update(t, img, []edit.Change{put("/isos/frag.iso", frag)}, nil); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after the fragmented add")
	checkCounts(t, img, "after the fragmented add")
	stat := testenv.Run(t, "debugfs", "-R", "stat /isos/frag.iso", img)
	v, done = open(t, img, nil)
	ino, err := v.m.inode(v.lookup("/isos/frag.iso").ino)
	if err != nil {
		t.Fatal(err)
	}
	exts, tree, err := v.m.extents(ino)
	done()
	if err != nil || len(exts) <= 4 || len(tree) != 1 {
		t.Fatalf("frag.iso has %d extents in %d tree blocks (%v), want > 4 in one leaf:\n%s", len(exts), len(tree), err, stat)
	}
	sums := digests(files)
	delete(sums, "/isos/fill.bin")
	own := ownFiles(t, img)
	delete(own, "/isos/fill.bin")
	if !sameMap(own, sums) {
		t.Fatalf("Open reads %v", own)
	}
	if got := debugfsFiles(t, img, map[string]string{"/isos/frag.iso": ""}); got["/isos/frag.iso"] != digest(frag) {
		t.Fatal("debugfs reads frag.iso differently")
	}
	dfs := diskfsFiles(t, img, "/isos")
	if dfs["/isos/frag.iso"] != digest(frag) {
		t.Fatal("go-diskfs reads frag.iso differently")
	}
	before := freeBlocks(t, img)
	if _, err := update(t, img, []edit.Change{{Path: "/isos/frag.iso", Remove: true}}, nil); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after removing the fragmented file")
	checkCounts(t, img, "after removing the fragmented file")
	if got, want := freeBlocks(t, img)-before, int64(len(frag)+1023)/1024+1; got != want {
		t.Errorf("removing frag.iso freed %d blocks, want %d (data and leaf)", got, want)
	}
}

func freeBlocks(t *testing.T, img string) int64 {
	t.Helper()
	v, f := openImage(t, img)
	defer f.Close()
	return v.Free() / v.g.BlockSize
}

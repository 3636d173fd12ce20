package ext4edit

import (
	"fmt"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestUpdateGrowsDirectories adds files with long names over several
// Updates, so /isos grows block by block with file data allocated in
// between: its blocks stop being adjacent and, past 4 extents, move into a
// leaf block. Then half the files go in one Update.
func TestUpdateGrowsDirectories(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs")
	files := map[string][]byte{"/isos/first.iso": content("first", 3000)}
	img := journaled(t, 64<<20, files)
	for round := 0; round < 8; round++ {
		var cs []edit.Change
		for i := 0; i < 20; i++ {
			p := fmt.Sprintf("/isos/%s-%d-%02d.iso", strings.Repeat("long-name", 6), round, i)
			files[p] = content(p, 1000+round*20+i)
			cs = append(cs, put(p, files[p]))
		}
		if _, err := update(t, img, cs, nil); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	clean(t, img, "after growing /isos")
	checkCounts(t, img, "after growing /isos")
	v, done := open(t, img, nil)
	ino, err := v.m.inode(v.lookup("/isos").ino)
	if err != nil {
		t.Fatal(err)
	}
	exts, tree, err := v.m.extents(ino)
	done()
	if err != nil || len(exts) <= 4 || len(tree) != 1 {
		t.Fatalf("/isos has %d extents in %d tree blocks (%v); the test wants more than 4 in a leaf", len(exts), len(tree), err)
	}
	if got := ownFiles(t, img); !sameMap(got, digests(files)) {
		t.Fatalf("Open reads %d files, want %d", len(got), len(files))
	}
	if got := diskfsFiles(t, img, "/isos"); !sameMap(got, digests(files)) {
		t.Fatalf("go-diskfs reads %d files, want %d", len(got), len(files))
	}
	var cs []edit.Change
	n := 0
	for p := range files {
		if n++; n%2 == 0 {
			cs = append(cs, edit.Change{Path: p, Remove: true})
			delete(files, p)
		}
	}
	if _, err := update(t, img, cs, nil); err != nil {
		t.Fatal(err)
	}
	clean(t, img, "after removing half")
	checkCounts(t, img, "after removing half")
	sums := digests(files)
	if got := ownFiles(t, img); !sameMap(got, sums) {
		t.Fatalf("Open reads %d files, want %d", len(got), len(files))
	}
	if got := debugfsFiles(t, img, sums); !sameMap(got, sums) {
		t.Fatal("debugfs reads differently")
	}
}

package ext4edit

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

func addJournal(t *testing.T, img string, off, blocks int64) {
	t.Helper()
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := AddJournal(f, off, blocks, testUUID, testTime); err != nil {
		t.Fatalf("AddJournal: %v", err)
	}
}

// TestAddJournal adds journals to volumes compose/disk built, with 1 KiB
// blocks (64 MiB) and 4 KiB blocks (600 MiB), at the partition's offset in
// the whole image, and checks them with e2fsprogs and go-diskfs.
func TestAddJournal(t *testing.T) {
	testenv.Tools(t, "e2fsck", "dumpe2fs")
	files := map[string][]byte{"/isos/a.iso": content("a", 300<<10+5), "/isos/b.iso": content("b", 70<<10)}
	for _, size := range []int64{64 << 20, 600 << 20} {
		img, off, n := dataImage(t, size, files)
		addJournal(t, img, off, 1024)
		vol := extract(t, img, off, n)
		clean(t, vol, "after AddJournal")
		checkCounts(t, vol, "after AddJournal")
		out := testenv.Run(t, "dumpe2fs", vol)
		for _, want := range []string{"has_journal", "Journal backup:           inode blocks", "Total journal blocks:     1024", "Journal start:            0"} {
			if !strings.Contains(out, want) {
				t.Errorf("%d MiB: dumpe2fs lacks %q:\n%s", size>>20, want, out[:min(len(out), 3000)])
			}
		}
		if got := diskfsFiles(t, vol, "/isos"); !sameMap(got, digests(files)) {
			t.Errorf("go-diskfs reads %v after AddJournal", got)
		}
		if size > 64<<20 {
			continue
		}
		// Deterministic: the same volume and arguments give the same bytes.
		img2, off2, _ := dataImage(t, size, files)
		addJournal(t, img2, off2, 1024)
		if out, err := exec.Command("cmp", img, img2).CombinedOutput(); err != nil {
			t.Errorf("two AddJournal runs differ: %s", out)
		}
	}
}

func TestAddJournalRefuses(t *testing.T) {
	img, off, _ := dataImage(t, 64<<20, map[string][]byte{"/isos/a.iso": []byte("a")})
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := AddJournal(f, off, 100, testUUID, testTime); err == nil {
		t.Error("a journal of 100 blocks was accepted")
	}
	if err := AddJournal(f, off, 1024, testUUID, testTime); err != nil {
		t.Fatal(err)
	}
	if err := AddJournal(f, off, 1024, testUUID, testTime); err == nil || !strings.Contains(err.Error(), "already has a journal") {
		t.Errorf("a second journal: %v", err)
	}
	if err := AddJournal(f, 0, 1024, testUUID, testTime); err == nil {
		t.Error("AddJournal on a non-ext4 offset succeeded")
	}
}

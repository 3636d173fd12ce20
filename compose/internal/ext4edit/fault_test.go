package ext4edit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// dying stops writing for good after n writes: the device state of a
// process killed between two writes. It has no Sync: a kill loses no
// written data, and hundreds of fsyncs would only slow the test.
type dying struct {
	f         *os.File
	n, writes int
}

func (d *dying) ReadAt(b []byte, off int64) (int, error) { return d.f.ReadAt(b, off) }

var errDead = errors.New("injected: process killed")

func (d *dying) WriteAt(b []byte, off int64) (int, error) {
	if d.writes >= d.n {
		return 0, errDead
	}
	d.writes++
	return d.f.WriteAt(b, off)
}

// staleFiles reads files as GRUB does, without replaying the journal:
// this package's reader on the home blocks, and go-diskfs.
func staleFiles(t *testing.T, img string, paths ...string) (own, diskfs map[string]string) {
	t.Helper()
	v, f := openImage(t, img)
	defer f.Close()
	if err := v.load(true); err != nil {
		t.Fatal(err)
	}
	v.recover = false
	own = map[string]string{}
	for _, p := range paths {
		r, err := v.Open(p)
		if err != nil {
			t.Fatalf("stale read of %s: %v", p, err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		own[p] = digest(b)
	}
	all := diskfsFiles(t, img, "/keep", "/isos")
	diskfs = map[string]string{}
	for _, p := range paths {
		diskfs[p] = all[p]
	}
	return own, diskfs
}

type readOnly struct{ *os.File }

func (readOnly) WriteAt([]byte, int64) (int, error) { return 0, errors.New("read-only") }

// openImage opens the volume in img read-only; the caller closes f.
func openImage(t *testing.T, img string) (*Volume, *os.File) {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Open(readOnly{f}, 0)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	return v, f
}

// state names where in the commit order a stop left the volume.
func state(t *testing.T, img string) string {
	t.Helper()
	v, f := openImage(t, img)
	defer f.Close()
	sb := make([]byte, 1024)
	if _, err := f.ReadAt(sb, sbOffset); err != nil {
		t.Fatal(err)
	}
	switch {
	case v.NeedsRecovery():
		return "committed (journal holds the transaction)"
	case le.Uint32(sb[sbIncompat:])&incompatRecover != 0:
		return "needs_recovery set, journal empty"
	default:
		return "clean"
	}
}

// TestUpdateSurvivesDeathAtEveryWrite stops the writer after every n
// over a whole Update, then checks on copies that e2fsck's replay and
// Recover each leave a clean volume holding the whole old or the whole
// new tree, byte-identical between the two; that files the change does
// not touch read the same at every stop without any replay (as GRUB
// reads); and what e2fsck -fn says without replay in each state.
func TestUpdateSurvivesDeathAtEveryWrite(t *testing.T) {
	testenv.Tools(t, "e2fsck", "grub-fstest")
	old, next, changes := scenario()
	dir := t.TempDir()
	pristine := journaled(t, 64<<20, old)
	work := filepath.Join(dir, "work.img")
	copyFile(t, pristine, work)
	counter := &dying{n: 1 << 30}
	if _, err := updateChunk(t, work, changes, func(f *os.File) Device { counter.f = f; return counter }, 512<<10); err != nil {
		t.Fatal(err)
	}
	total := counter.writes
	untouched := []string{"/isos/alpha.iso", "/keep/kept.bin"}
	oldSums, newSums := digests(old), digests(next)
	rcs := map[string]map[int]int{}
	var sawOld, sawNew int
	prev := ""
	for n := 0; n <= total; n++ {
		copyFile(t, pristine, work)
		d := &dying{n: n}
		_, err := updateChunk(t, work, changes, func(f *os.File) Device { d.f = f; return d }, 512<<10)
		if n < total && !errors.Is(err, errDead) {
			t.Fatalf("death after %d of %d writes: Update returned %v", n, total, err)
		}
		st := state(t, work)
		rc, out := fsck(t, work, "-fn")
		if rcs[st] == nil {
			rcs[st] = map[int]int{}
		}
		rcs[st][rc]++
		if os.Getenv("EXT4EDIT_DEBUG") != "" {
			t.Logf("stop %d: %s: e2fsck -fn %d", n, st, rc)
		}
		committed := st == "committed (journal holds the transaction)"
		if (!committed || prev != st) && rc != 0 {
			// Before the commit, and right after it (nothing checkpointed),
			// the home blocks hold the whole old, consistent metadata.
			t.Fatalf("death after %d of %d writes (%s): e2fsck -fn without replay exited %d:\n%s", n, total, st, rc, out)
		}
		prev = st
		if st != "clean" || n == 0 || n == total {
			// Before step 2 the home metadata is untouched; staleFiles
			// below checks the untouched files there.
			grubOldOrNew(t, work, old, next, n)
		}
		own, dfs := staleFiles(t, work, untouched...)
		for _, p := range untouched {
			if own[p] != oldSums[p] || dfs[p] != oldSums[p] {
				t.Fatalf("death after %d: untouched %s reads differently without replay (own %v, go-diskfs %v)", n, p, own[p] == oldSums[p], dfs[p] == oldSums[p])
			}
		}
		byFsck := filepath.Join(dir, "fsck.img")
		copyFile(t, work, byFsck)
		if rc, out := fsck(t, byFsck, "-y", "-E", "journal_only"); rc > 1 {
			t.Fatalf("death after %d: e2fsck -E journal_only exited %d:\n%s", n, rc, out)
		}
		clean(t, byFsck, fmt.Sprintf("death after %d, replayed by e2fsck", n))
		v, done := open(t, work, noSync)
		if err := v.Recover(); err != nil {
			t.Fatalf("death after %d: Recover: %v", n, err)
		}
		if err := v.Recover(); err != nil {
			t.Fatalf("death after %d: second Recover: %v", n, err)
		}
		done()
		clean(t, work, fmt.Sprintf("death after %d, Recovered", n))
		checkCounts(t, work, fmt.Sprintf("death after %d, Recovered", n))
		got := ownFiles(t, work)
		switch {
		case sameMap(got, oldSums):
			sawOld++
		case sameMap(got, newSums):
			sawNew++
		default:
			t.Fatalf("death after %d of %d writes left a mixed tree: %v", n, total, got)
		}
		if g2 := ownFiles(t, byFsck); !sameMap(g2, got) {
			t.Fatalf("death after %d: e2fsck's replay reads %v, Recover's %v", n, g2, got)
		}
		sameBlocks(t, work, byFsck, n)
		if _, err := update(t, work, changes, noSync); err != nil && sameMap(got, oldSums) {
			t.Fatalf("rerun after death at %d: %v", n, err)
		}
	}
	if sawOld == 0 || sawNew == 0 {
		t.Fatalf("deaths left %d old and %d new trees; want both", sawOld, sawNew)
	}
	var states []string
	for st, m := range rcs {
		states = append(states, fmt.Sprintf("%s: e2fsck -fn exit codes %v", st, m))
	}
	sort.Strings(states)
	t.Logf("%d writes per Update; %d deaths left the old tree, %d the new\n%s", total, sawOld, sawNew, strings.Join(states, "\n"))
}

// sameBlocks fails t unless two images hold the same bytes but for the
// superblock's write time and lifetime-writes counter, which e2fsck stamps
// and Recover does not, and the journal's next sequence, which e2fsck
// bumps even when it replays nothing. It reads only where either sparse
// image has data.
func sameBlocks(t *testing.T, a, b string, n int) {
	t.Helper()
	v, fa := openImage(t, a)
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	jsb, _ := v.j.phys(0)
	js := jsb * v.g.BlockSize
	skip := [][2]int64{{sbOffset + 0x30, sbOffset + 0x34}, {sbOffset + 0x178, sbOffset + 0x180}, {js + jsSequence, js + jsSequence + 4}}
	for _, r := range append(dataRegions(t, fa), dataRegions(t, fb)...) {
		x, y := make([]byte, r[1]-r[0]), make([]byte, r[1]-r[0])
		if _, err := fa.ReadAt(x, r[0]); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		if _, err := fb.ReadAt(y, r[0]); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
		for _, s := range skip {
			if s[0] >= r[0] && s[1] <= r[1] {
				copy(y[s[0]-r[0]:s[1]-r[0]], x[s[0]-r[0]:])
			}
		}
		if !bytes.Equal(x, y) {
			for i := 0; i < len(x); i++ {
				if x[i] != y[i] {
					t.Fatalf("death after %d: e2fsck's replay and Recover differ at byte %d", n, r[0]+int64(i))
				}
			}
		}
	}
}

// dataRegions lists a sparse file's data regions.
func dataRegions(t *testing.T, f *os.File) [][2]int64 {
	t.Helper()
	const seekData, seekHole = 3, 4
	var out [][2]int64
	for at := int64(0); ; {
		data, err := f.Seek(at, seekData)
		if err != nil {
			return out
		}
		hole, err := f.Seek(data, seekHole)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, [2]int64{data, hole})
		at = hole
	}
}

// noSync hides the file's Sync (see dying).
func noSync(f *os.File) Device { return struct{ Device }{f} }

// TestNeedsRecoveryRefuses stops an Update right after its commit: Open
// reports the pending transaction, reads and Update refuse until Recover.
func TestNeedsRecoveryRefuses(t *testing.T) {
	testenv.Tools(t, "e2fsck")
	old, next, changes := scenario()
	pristine := journaled(t, 64<<20, old)
	work := filepath.Join(t.TempDir(), "work.img")
	for n := 0; ; n++ {
		copyFile(t, pristine, work)
		d := &dying{n: n}
		v, done := open(t, work, func(f *os.File) Device { d.f = f; return d })
		_, err := v.Update(context.Background(), changes, edit.Options{Chunk: 1 << 20})
		committed := v.NeedsRecovery()
		done()
		if err == nil {
			t.Fatal("no stop left the journal committed")
		}
		if (state(t, work) == "committed (journal holds the transaction)") != committed {
			t.Fatalf("after a failed Update NeedsRecovery says %v, the volume differs", committed)
		}
		if committed {
			break
		}
	}
	v, done := open(t, work, noSync)
	defer done()
	if !v.NeedsRecovery() || len(v.Files()) != 0 {
		t.Fatalf("NeedsRecovery %v with %d files", v.NeedsRecovery(), len(v.Files()))
	}
	if _, err := v.Open("/keep/kept.bin"); !errors.Is(err, ErrNeedsRecovery) {
		t.Errorf("Open of a file: %v", err)
	}
	if _, err := v.Update(context.Background(), changes, edit.Options{}); !errors.Is(err, ErrNeedsRecovery) {
		t.Errorf("Update: %v", err)
	}
	if err := v.Recover(); err != nil {
		t.Fatal(err)
	}
	if v.NeedsRecovery() {
		t.Fatal("still needs recovery after Recover")
	}
	clean(t, work, "after Recover")
	if got := ownFiles(t, work); !sameMap(got, digests(next)) {
		t.Fatalf("after Recover of a committed Update: %v", got)
	}
}

// TestStaleJournalBlocksStopReplay commits a long transaction, then stops
// a shorter one right after its commit: the older transaction's blocks
// still lie past the new commit block, and replay (Recover and e2fsck's)
// must stop at them because their sequence is older.
func TestStaleJournalBlocksStopReplay(t *testing.T) {
	testenv.Tools(t, "e2fsck")
	old, next, changes := scenario()
	pristine := journaled(t, 64<<20, old)
	if _, err := updateChunk(t, pristine, changes, noSync, 1<<20); err != nil {
		t.Fatal(err)
	}
	short := []edit.Change{{Path: "/keep/kept.bin", Remove: true}}
	delete(next, "/keep/kept.bin")
	work := filepath.Join(t.TempDir(), "work.img")
	for n := 0; ; n++ {
		copyFile(t, pristine, work)
		d := &dying{n: n}
		if _, err := updateChunk(t, work, short, func(f *os.File) Device { d.f = f; return d }, 1<<20); err == nil {
			t.Fatal("no stop left the journal committed")
		}
		if state(t, work) == "committed (journal holds the transaction)" {
			break
		}
	}
	v, done := open(t, work, noSync)
	txns, err := v.j.scan()
	defer done()
	if err != nil || len(txns) != 1 {
		t.Fatalf("scan found %d transactions (%v), want 1", len(txns), err)
	}
	// Past the commit block (one descriptor, the copies, the commit) lie
	// blocks of the older transaction. Make them a whole transaction of
	// its sequence, as a journal can hold, that would zero the superblock's
	// block: only its older sequence stops the replay.
	after := v.j.first + 2 + int64(len(txns[0].blocks))
	seq := txns[0].seq - 1
	hdr := func(typ uint32) []byte {
		b := make([]byte, v.g.BlockSize)
		be.PutUint32(b[0:], jMagic)
		be.PutUint32(b[4:], typ)
		be.PutUint32(b[8:], seq)
		return b
	}
	desc := hdr(jDescriptor)
	be.PutUint32(desc[12:], uint32(v.g.sbBlock))
	be.PutUint16(desc[12+6:], jFlagLastTag)
	wf, err := os.OpenFile(work, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range [][]byte{desc, make([]byte, v.g.BlockSize), hdr(jCommit)} {
		p, _ := v.j.phys(after + int64(i))
		if _, err := wf.WriteAt(b, p*v.g.BlockSize); err != nil {
			t.Fatal(err)
		}
	}
	wf.Close()
	byFsck := filepath.Join(t.TempDir(), "fsck.img")
	copyFile(t, work, byFsck)
	if rc, out := fsck(t, byFsck, "-y", "-E", "journal_only"); rc > 1 {
		t.Fatalf("e2fsck -E journal_only exited %d:\n%s", rc, out)
	}
	clean(t, byFsck, "replayed by e2fsck")
	if err := v.Recover(); err != nil {
		t.Fatal(err)
	}
	clean(t, work, "Recovered")
	if got := ownFiles(t, work); !sameMap(got, digests(next)) {
		t.Fatalf("after Recover: %v", got)
	}
	sameBlocks(t, work, byFsck, -1)
}

// grubOldOrNew reads every path of the old and new trees with GRUB's ext2
// driver, which never replays: each must read as its old bytes, its new
// bytes, or be absent when one side lacks it; never partial, never missing
// when both sides have it. Untouched files must read as before.
func grubOldOrNew(t *testing.T, img string, old, next map[string][]byte, n int) {
	t.Helper()
	paths := map[string]bool{}
	for p := range old {
		paths[p] = true
	}
	for p := range next {
		paths[p] = true
	}
	for p := range paths {
		out, err := exec.Command("grub-fstest", img, "cat", p).Output()
		o, inOld := old[p]
		w, inNew := next[p]
		switch {
		case err != nil && (!inOld || !inNew):
		case err != nil:
			t.Fatalf("death after %d: GRUB cannot read %s: %v", n, p, err)
		case inOld && bytes.Equal(out, o), inNew && bytes.Equal(out, w):
		default:
			t.Fatalf("death after %d: GRUB reads %d bytes of %s, neither the old nor the new content", n, len(out), p)
		}
		if inOld && inNew && bytes.Equal(o, w) && !bytes.Equal(out, o) {
			t.Fatalf("death after %d: GRUB reads the untouched %s differently", n, p)
		}
	}
}

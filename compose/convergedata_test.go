package compose

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/ext4edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
)

// dataKits builds kit one (alpha, beta) with storage: data into an image
// and writes kit two's manifest (beta replaced, gamma added, alpha
// removed), all on the ext4 data partition.
func dataKits(t *testing.T) (dir, cache, img string, two *config.Manifest) {
	t.Helper()
	dir = t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	b2, c := liveISO(t, v2, "beta", "b2"), liveISO(t, v2, "gamma", "c")
	cache, img = filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	top := "firmware: [uefi-x64]\nstorage: data"
	build(t, kitWith(t, dir, top, a, b), cache, img)
	return dir, cache, img, kitWith(t, dir, top, b2, c)
}

func TestConvergeData(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "e2fsck", "debugfs")
	_, cache, img, two := dataKits(t)
	before := checkKit(t, img)
	if before.Data == nil || !before.Data.Journal || before.Data.Recovery || len(before.Data.Leftovers) > 0 {
		t.Fatalf("data partition as read: %+v", before.Data)
	}
	p := planAgainst(t, two, cache, img)
	d := p.Diff
	if ops(d) != "+iso:gamma -iso:alpha ~iso:beta ~menu:/boot/grub/grub.cfg" || len(d.Recreate) > 0 {
		t.Fatalf("diff: %s %v", ops(d), d.Recreate)
	}
	for _, c := range d.Changes {
		if c.Name == "beta" && (c.OldPath == "" || c.OldPath == c.Path || !strings.HasPrefix(c.Path, "/isos/beta-")) {
			t.Fatalf("beta's replacement: %+v", c)
		}
	}
	res, err := Build(context.Background(), p, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := checkKit(t, img)
	if after.State.Kit != p.desired.Kit || len(after.Data.Leftovers) > 0 {
		t.Fatalf("after apply: kit %s, leftovers %v", after.State.Kit, after.Data.Leftovers)
	}
	// The journal writes each metadata block twice; a few hundred KiB.
	if res.BytesWritten < d.Write || res.BytesWritten > d.Write+2<<20 {
		t.Fatalf("wrote %d bytes for %d bytes of changed files", res.BytesWritten, d.Write)
	}
	again := planAgainst(t, two, cache, img)
	if !again.Diff.NoChanges {
		t.Fatalf("re-plan after apply: %s", ops(again.Diff))
	}
	if res, err := Build(context.Background(), again, BuildOptions{}); err != nil || res.BytesWritten != 0 {
		t.Fatalf("no-op apply wrote %d bytes: %v", res.BytesWritten, err)
	}
}

// putData writes files onto the kit's data partition behind compose's
// back, as an interrupted apply would have left them.
func putData(t *testing.T, img string, files map[string][]byte) {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := ext4edit.Open(f, tg.Offset(tg.State.DataIndex()))
	if err != nil {
		t.Fatal(err)
	}
	var cs []edit.Change
	for p, b := range files {
		cs = append(cs, edit.Change{Path: p, Size: int64(len(b)), Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }})
	}
	if _, err := v.Update(context.Background(), cs, edit.Options{}); err != nil {
		t.Fatal(err)
	}
}

// TestConvergeDataLeftovers: files under /isos the record does not name
// are an interrupted apply's, not drift. The plan removes them, except one
// that is exactly a file it writes, which apply keeps once its digest
// checks; one with the right size but other bytes is written again. A file
// elsewhere is drift.
func TestConvergeDataLeftovers(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "e2fsck", "debugfs")
	dir, cache, img, two := dataKits(t)
	gamma, _ := os.ReadFile(filepath.Join(dir, "v2", "gamma.iso"))
	beta2, _ := os.ReadFile(filepath.Join(dir, "v2", "beta.iso"))
	p := planAgainst(t, two, cache, img)
	paths := map[string]string{}
	for _, c := range p.Diff.Changes {
		paths[c.Name] = c.Path
	}
	bad := bytes.Clone(beta2)
	bad[len(bad)/2] ^= 1
	putData(t, img, map[string][]byte{paths["gamma"]: gamma, paths["beta"]: bad, "/isos/zeta-0123abcd.iso": []byte("zeta")})
	tg := checkKit(t, img)
	if len(tg.Data.Leftovers) != 3 {
		t.Fatalf("leftovers: %+v", tg.Data.Leftovers)
	}
	p = planAgainst(t, two, cache, img)
	d := p.Diff
	if ops(d) != "+iso:gamma -iso:alpha -leftover:/isos/zeta-0123abcd.iso ~iso:beta ~menu:/boot/grub/grub.cfg" || len(d.Recreate) > 0 {
		t.Fatalf("diff: %s %v", ops(d), d.Recreate)
	}
	for _, c := range d.Changes {
		if c.Kind == "iso" && c.Op != "-" && !c.Leftover {
			t.Fatalf("%s is not marked as a leftover", c.Name)
		}
	}
	res, err := Build(context.Background(), p, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := checkKit(t, img)
	if after.State.Kit != p.desired.Kit || len(after.Data.Leftovers) > 0 {
		t.Fatalf("after apply: leftovers %v", after.Data.Leftovers)
	}
	// gamma was kept; beta was written again.
	if w := int64(len(beta2)); res.BytesWritten < w || res.BytesWritten > w+2<<20 {
		t.Fatalf("wrote %d bytes; beta is %d, gamma %d", res.BytesWritten, w, len(gamma))
	}
	putData(t, img, map[string][]byte{"/notes.txt": []byte("mine")})
	if tg := checkDrift(t, img); !strings.Contains(strings.Join(tg.Problems, "; "), "/notes.txt on the data partition was added outside compose") {
		t.Fatalf("problems: %v", tg.Problems)
	}
}

func checkDrift(t *testing.T, img string) *converge.Target {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil || !tg.Drift {
		t.Fatalf("drift not seen: %v %+v", err, tg)
	}
	return tg
}

// TestConvergeDataSurvivesDeath stops an apply on an ext4 kit after n
// writes for seeded n over the whole apply, then checks the kit (menu
// entries name complete ISOs, read without journal replay; e2fsck-clean
// after replay), that ReadTarget sees a pending replay or leftovers where
// the stop left them, and that a rerun converges.
func TestConvergeDataSurvivesDeath(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "e2fsck", "debugfs")
	dir, cache, img, two := dataKits(t)
	pristine := filepath.Join(dir, "pristine.img")
	testenv.Run(t, "cp", "--sparse=always", img, pristine)
	oldKit := checkKit(t, img).State.Kit
	ctx := context.Background()
	count := &dying{n: 1 << 30}
	p := planAgainst(t, two, cache, img)
	newKit := p.desired.Kit
	opts := BuildOptions{chunk: 64 << 10, wrap: func(f *os.File) fatedit.Device { count.File = f; return count }}
	if _, err := Build(ctx, p, opts); err != nil {
		t.Fatal(err)
	}
	total := count.writes
	seen := map[string]int{}
	for _, n := range spread(total, 24, 16) {
		testenv.Run(t, "cp", "--sparse=always", pristine, img)
		d := &dying{n: n}
		opts.wrap = func(f *os.File) fatedit.Device { d.File = f; return d }
		if _, err := Build(ctx, p, opts); !errors.Is(err, syscall.EIO) {
			t.Fatalf("stopped after %d of %d writes: Apply returned %v", n, total, err)
		}
		phase := dataPhase(checkKit(t, img), oldKit, newKit)
		if strings.HasPrefix(phase, "neither") {
			t.Fatalf("stopped after %d writes: the kit is neither old nor new", n)
		}
		seen[phase]++
		// A rerun is a new apply: it plans against what the stop left.
		if _, err := Build(ctx, planAgainst(t, two, cache, img), BuildOptions{}); err != nil {
			t.Fatalf("rerun after stop at %d: %v", n, err)
		}
		if tg := checkKit(t, img); tg.State.Kit != newKit || len(tg.Data.Leftovers) > 0 || tg.Data.Recovery {
			t.Fatalf("rerun after stop at %d did not converge: %+v", n, tg.Data)
		}
	}
	if seen["old+replay+leftovers"] == 0 || seen["new+leftovers"] == 0 || seen["new+replay"] == 0 {
		t.Fatalf("interruptions left %v; want stops in the data partition's transactions before and after the menu swap", seen)
	}
	t.Logf("%d writes per apply; interruptions left %v", total, seen)
}

// spread picks n seeded points in [0, total), the ends included.
func spread(total, n int, seed int64) []int {
	points := []int{0, total - 1, total - 2}
	r := rand.New(rand.NewSource(seed))
	for len(points) < n {
		points = append(points, r.Intn(total))
	}
	return points
}

// dataPhase names what an interrupted apply left: the old or new kit,
// with leftovers and/or a journal to replay.
func dataPhase(tg *converge.Target, oldKit, newKit string) string {
	s := map[string]string{oldKit: "old", newKit: "new"}[tg.State.Kit]
	if s == "" {
		s = "neither"
	}
	if tg.Data.Recovery {
		s += "+replay"
	}
	if len(tg.Data.Leftovers) > 0 {
		s += "+leftovers"
	}
	return s
}

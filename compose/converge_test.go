package compose

import (
	"context"
	"errors"
	"github.com/usbkit/compose/compose/pin"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// plan locks and plans m against img with the fetcher in cache.
func planAgainst(t *testing.T, m *config.Manifest, cache, img string, opts ...PlanOptions) *Plan {
	t.Helper()
	ctx := context.Background()
	f := newFetcher(t, cache)
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.FetchAll(ctx, mustSources(t, m, l)); err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(ctx, m, l, f, img, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ready {
		t.Fatalf("plan not ready: %v", p.Downloads)
	}
	return p
}

func mustSources(t *testing.T, m *config.Manifest, l *config.Lock) []fetch.Source {
	t.Helper()
	s, err := pin.Sources(m, l)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ops(d *converge.Diff) string {
	var out []string
	for _, c := range d.Changes {
		n := c.Name
		if n == "" {
			n = c.Path
		}
		out = append(out, c.Op+c.Kind+":"+n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// checkKit runs fsck.fat -n on the ESP and checks that every menu entry
// names an ISO whose whole SHA-256 is the one the state record holds (on
// ext4 read without journal replay, as GRUB reads it), that the ext4 data
// partition is e2fsck-clean after replay, and that the target reads back
// as a kit without drift.
func checkKit(t *testing.T, img string) *converge.Target {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil {
		t.Fatal(err)
	}
	if !tg.Kit || tg.Drift || len(tg.Problems) > 0 {
		t.Fatalf("%s: kit %v, problems %v", img, tg.Kit, tg.Problems)
	}
	esp := tg.Partitions[len(tg.Partitions)-1]
	for _, p := range tg.Partitions {
		if p.Type == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
			esp = p
		}
	}
	espImg := filepath.Join(t.TempDir(), "esp.img")
	extract(t, img, espImg, esp.Offset, esp.Size)
	if out, err := exec.Command("fsck.fat", "-n", espImg).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	f, _ := os.Open(img)
	defer f.Close()
	v, err := fatedit.Open(readOnly{f}, esp.Offset)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := v.ReadFile("/boot/grub/grub.cfg")
	if err != nil {
		t.Fatal(err)
	}
	digest, onData := map[string]string{}, map[string]bool{}
	for _, iso := range tg.State.ISOs {
		digest[iso.Path], onData[iso.Path] = iso.Digest, iso.Partition != esp.Index
	}
	data := dataCopy(t, img, tg)
	for _, m := range regexp.MustCompile(`/isos/[a-z0-9-]+\.iso`).FindAllString(string(cfg), -1) {
		want, ok := digest[m]
		if !ok {
			t.Fatalf("the menu names %s, which the state record does not hold", m)
		}
		var got string
		if onData[m] {
			got = debugfsSHA256(t, data, m)
		} else if r, err := v.Open(m); err == nil {
			got = sha256Of(t, r)
		} else {
			t.Fatalf("the menu names %s: %v", m, err)
		}
		if got != want {
			t.Fatalf("%s on the stick is not the ISO the state records", m)
		}
	}
	if data != "" {
		replayedClean(t, data)
	}
	return tg
}

// dataCopy copies the kit's ext4 data partition to a file; "" without one.
func dataCopy(t *testing.T, img string, tg *converge.Target) string {
	t.Helper()
	idx := tg.State.DataIndex()
	for _, p := range tg.Partitions {
		if p.Index == idx {
			out := filepath.Join(t.TempDir(), "data.img")
			extract(t, img, out, p.Offset, p.Size)
			return out
		}
	}
	return ""
}

// debugfsSHA256 hashes a file of the ext4 volume vol as debugfs reads it:
// without replaying the journal, as GRUB does.
func debugfsSHA256(t *testing.T, vol, path string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "dump")
	testenv.Run(t, "debugfs", "-R", "dump "+path+" "+out, vol)
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("debugfs cannot read %s without journal replay", path)
	}
	return sha256File(t, out)
}

// replayedClean replays vol's journal as Linux would on mount and checks
// the result with e2fsck -fn.
func replayedClean(t *testing.T, vol string) {
	t.Helper()
	if out, err := exec.Command("e2fsck", "-fy", "-E", "journal_only", vol).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() > 1 {
			t.Fatalf("e2fsck -E journal_only: %v\n%s", err, out)
		}
	}
	if out, err := exec.Command("e2fsck", "-fn", vol).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn after journal replay: %v\n%s", err, out)
	}
}

// twoKits builds kit one (alpha, beta) into an image and writes kit two's
// manifest (beta replaced, gamma added, alpha removed).
func twoKits(t *testing.T, fw string) (dir, cache, img string, two *config.Manifest) {
	t.Helper()
	dir = t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	b2, c := liveISO(t, v2, "beta", "b2"), liveISO(t, v2, "gamma", "c")
	cache, img = filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	build(t, kit(t, dir, fw, a, b), cache, img)
	return dir, cache, img, kit(t, dir, fw, b2, c)
}

func TestConvergeChangesOnlyWhatDiffers(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	_, cache, img, two := twoKits(t, "bios, uefi-x64")
	before := checkKit(t, img)
	p := planAgainst(t, two, cache, img)
	if p.Diff == nil || ops(p.Diff) != "+iso:gamma -iso:alpha ~iso:beta ~menu:/boot/grub/grub.cfg" || len(p.Diff.Recreate) > 0 || p.Diff.Steps != 1 {
		t.Fatalf("diff: %+v", p.Diff)
	}
	res, err := Build(context.Background(), p, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := checkKit(t, img)
	if !res.Incremental || after.State.Kit != p.desired.Kit || after.State.StickID != before.State.StickID {
		t.Fatalf("result %+v; state kit %s want %s", res, after.State.Kit, p.desired.Kit)
	}
	if res.BytesWritten < p.Diff.Write || res.BytesWritten > p.Diff.Write+4<<20 {
		t.Fatalf("wrote %d bytes for %d bytes of changed files", res.BytesWritten, p.Diff.Write)
	}
	again := planAgainst(t, two, cache, img)
	if !again.Diff.NoChanges {
		t.Fatalf("re-plan after apply: %s", ops(again.Diff))
	}
	res, err = Build(context.Background(), again, BuildOptions{})
	if err != nil || res.BytesWritten != 0 {
		t.Fatalf("no-op apply wrote %d bytes: %v", res.BytesWritten, err)
	}
}

func TestConvergeRefuses(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir, cache, img, two := twoKits(t, "uefi-x64")
	ctx := context.Background()

	// A firmware target that needs a partition the kit lacks.
	bios := kit(t, dir, "bios, uefi-x64", filepath.Join(dir, "alpha.iso"))
	if _, err := Build(ctx, planAgainst(t, bios, cache, img), BuildOptions{}); !errors.Is(err, converge.ErrRecreate) || !strings.Contains(err.Error(), "BIOS boot partition") {
		t.Fatalf("adding bios: %v", err)
	}
	// A file changed outside compose.
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	tg, _ := converge.ReadTarget(img)
	v, err := fatedit.Open(f, tg.Offset(tg.State.ESPIndex()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Update(ctx, []edit.Change{{Path: "/boot/grub/grub.cfg", Size: 3, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader("hi\n")), nil
	}}}, edit.Options{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p := planAgainst(t, two, cache, img)
	if _, err := Build(ctx, p, BuildOptions{}); !errors.Is(err, converge.ErrRecreate) || !strings.Contains(err.Error(), "grub.cfg was changed outside compose") {
		t.Fatalf("drift: %v", err)
	}
	// Not a kit at all; --recreate rewrites it.
	os.WriteFile(img, make([]byte, 4<<20), 0o644)
	p = planAgainst(t, two, cache, img)
	if _, err := Build(ctx, p, BuildOptions{}); !errors.Is(err, converge.ErrRecreate) || !strings.Contains(err.Error(), "not a compose kit") {
		t.Fatalf("not a kit: %v", err)
	}
	if _, err := Build(ctx, planAgainst(t, two, cache, img, PlanOptions{Recreate: true}), BuildOptions{Recreate: true}); err != nil {
		t.Fatal(err)
	}
	checkKit(t, img)
}

// dying stops writing for good after n writes, returning EIO: the device
// after a kill -9 (nothing more is written) or a write error mid-way.
type dying struct {
	*os.File
	n, writes int
}

func (d *dying) WriteAt(b []byte, off int64) (int, error) {
	if d.writes >= d.n {
		return 0, &os.PathError{Op: "write", Path: d.Name(), Err: syscall.EIO}
	}
	d.writes++
	return d.File.WriteAt(b, off)
}

// TestConvergeSurvivesDeath interrupts an in-place apply after n writes
// for 50 seeded n spread over every phase, then checks that the ESP is
// fsck-clean, every menu entry points at a complete ISO whose digest the
// state record holds, the kit is the old one or the new one, and a rerun
// converges.
func TestConvergeSurvivesDeath(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir, cache, img, two := twoKits(t, "bios, uefi-x64")
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
	r := rand.New(rand.NewSource(15))
	points := []int{0, total - 1, total - 2}
	for len(points) < 50 {
		points = append(points, r.Intn(total))
	}
	seen := map[string]int{}
	for _, n := range points {
		testenv.Run(t, "cp", "--sparse=always", pristine, img)
		d := &dying{n: n}
		opts.wrap = func(f *os.File) fatedit.Device { d.File = f; return d }
		_, err := Build(ctx, p, opts)
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("stopped after %d of %d writes: Apply returned %v", n, total, err)
		}
		switch k := checkKit(t, img).State.Kit; k {
		case oldKit:
			seen["old"]++
		case newKit:
			seen["new"]++
		default:
			t.Fatalf("stopped after %d writes: kit %s is neither old nor new", n, k)
		}
		// A rerun is a new apply: it plans against what the stop left.
		if _, err := Build(ctx, planAgainst(t, two, cache, img), BuildOptions{}); err != nil {
			t.Fatalf("rerun after stop at %d: %v", n, err)
		}
		if k := checkKit(t, img).State.Kit; k != newKit {
			t.Fatalf("rerun after stop at %d did not converge", n)
		}
	}
	if seen["old"] == 0 || seen["new"] == 0 {
		t.Fatalf("interruptions left %v; want both old and new kits", seen)
	}
	t.Logf("%d writes per apply; interruptions left %v", total, seen)
}

// tightKits builds, with size: auto, kit one (alpha and a 40 MiB beta)
// into an image: its ESP keeps 32 MiB and 2% free, too little for a new
// beta beside the old one. It writes kit two's manifest (beta replaced,
// plus the extra ISOs).
func tightKits(t *testing.T, extra ...string) (dir, cache, img string, two *config.Manifest) {
	t.Helper()
	dir = t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), bigISO(t, dir, "beta", "b", 40<<20)
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	b2 := bigISO(t, v2, "beta", "b2", 40<<20)
	cache, img = filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	top := "firmware: [bios, uefi-x64]\nsize: auto"
	build(t, kitWith(t, dir, top, a, b), cache, img)
	return dir, cache, img, kitWith(t, dir, top, append([]string{a, b2}, extra...)...)
}

// TestConvergeTwoSteps replaces an ISO on an ESP without room for the new
// one beside the old: the plan says two steps, the first commit leaves an
// interim kit without beta (checked by stopping the apply right after it),
// and the second the new kit.
func TestConvergeTwoSteps(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	_, cache, img, two := tightKits(t)
	before := checkKit(t, img)
	p := planAgainst(t, two, cache, img)
	d := p.Diff
	if d == nil || len(d.Recreate) > 0 || d.Steps != 2 || d.Interim == nil {
		t.Fatalf("diff: %+v", d)
	}
	if ops(d) != "~iso:beta" || !slices.Equal(d.Interim.Removed, []string{"beta"}) || !slices.Equal(d.Interim.Missing, []string{"beta"}) ||
		d.Interim.Adds <= before.ESPFree || d.Interim.Free < d.Interim.Adds {
		t.Fatalf("diff %s, interim %+v, %d bytes free", ops(d), d.Interim, before.ESPFree)
	}
	ctx := context.Background()
	// Stop it once the first step committed: its last write is the
	// FSInfo count after the commit; the next writes are beta's.
	count := &dying{n: 1 << 30}
	opts := BuildOptions{wrap: func(f *os.File) fatedit.Device { count.File = f; return count }}
	pristine := img + ".pristine"
	testenv.Run(t, "cp", "--sparse=always", img, pristine)
	res, err := Build(ctx, p, opts)
	if err != nil || res.Steps != 2 {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	total := count.writes
	after := checkKit(t, img)
	if after.State.Interim || after.State.Kit != p.desired.Kit || len(after.State.ISOs) != 2 {
		t.Fatalf("after apply: %+v", after.State)
	}
	if res.BytesWritten < 40<<20 || res.BytesWritten > 44<<20 {
		t.Fatalf("wrote %d bytes to replace a 40 MiB ISO", res.BytesWritten)
	}
	var interim bool
	for n := 1; n < total && !interim; n++ {
		testenv.Run(t, "cp", "--sparse=always", pristine, img)
		d := &dying{n: n}
		opts.wrap = func(f *os.File) fatedit.Device { d.File = f; return d }
		if _, err := Build(ctx, p, opts); !errors.Is(err, syscall.EIO) {
			t.Fatalf("stopped after %d writes: %v", n, err)
		}
		st := checkKit(t, img).State
		if interim = st.Interim; interim {
			if len(st.ISOs) != 1 || st.ISOs[0].Name != "alpha" {
				t.Fatalf("interim record holds %+v", st.ISOs)
			}
			cfg := readESPFile(t, img, "/boot/grub/grub.cfg")
			if strings.Contains(cfg, "beta") || !strings.Contains(cfg, "/isos/alpha.iso") {
				t.Fatalf("interim menu:\n%s", cfg)
			}
			again := planAgainst(t, two, cache, img)
			if ops(again.Diff) != "+iso:beta ~menu:/boot/grub/grub.cfg" || again.Diff.Steps != 1 || !again.Diff.Resume {
				t.Fatalf("plan against the interim kit: %s, %d steps", ops(again.Diff), again.Diff.Steps)
			}
			// The interim kit is whole, and verify says what it is.
			if v, err := verifyOne(t, img); err != nil || !v.OK || !v.Interim || len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "interim kit") {
				t.Fatalf("verify the interim kit: %+v, %v", v, err)
			}
		}
	}
	if !interim {
		t.Fatal("no stop left the interim kit")
	}
	if _, err := Build(ctx, planAgainst(t, two, cache, img), BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := checkKit(t, img).State; st.Interim || st.Kit != p.desired.Kit {
		t.Fatal("rerun from the interim kit did not converge")
	}
}

// TestConvergeRefusesWhenEvenTwoStepsDoNotFit adds a second 40 MiB ISO:
// deleting the old beta first does not make room for both.
func TestConvergeRefusesWhenEvenTwoStepsDoNotFit(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir := t.TempDir()
	gamma := bigISO(t, dir, "gamma", "c", 40<<20)
	_, cache, img, two := tightKits(t, gamma)
	p := planAgainst(t, two, cache, img)
	if p.Diff.Steps != 0 || len(p.Diff.Recreate) != 1 || !strings.Contains(p.Diff.Recreate[0], "more once the replaced and removed ISOs are deleted first") {
		t.Fatalf("diff: %+v", p.Diff)
	}
	if _, err := Build(context.Background(), p, BuildOptions{}); !errors.Is(err, converge.ErrRecreate) {
		t.Fatalf("apply: %v", err)
	}
}

// readESPFile reads a file from the ESP of the kit at img.
func readESPFile(t *testing.T, img, path string) string {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := fatedit.Open(readOnly{f}, tg.Offset(tg.State.ESPIndex()))
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// readOnly lets fatedit read a kit the test must not write.
type readOnly struct{ io.ReaderAt }

func (readOnly) WriteAt([]byte, int64) (int, error) { return 0, errors.New("opened read-only") }

package compose

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// TestMain lets the test binary act as the apply process that
// TestConvergeSurvivesKill9 kills.
func TestMain(m *testing.M) {
	if os.Getenv("COMPOSE_TEST_APPLY_CHILD") == "1" {
		if err := childApply(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childApply converges $TARGET to the kit in $MANIFEST (locked, cached in
// $CACHE): the library calls compose apply makes.
func childApply() error {
	ctx := context.Background()
	m, err := config.Load(os.Getenv("MANIFEST"))
	if err != nil {
		return err
	}
	l, err := config.LoadLock(config.LockPath(m))
	if err != nil {
		return err
	}
	f, err := newFetcherErr(os.Getenv("CACHE"))
	if err != nil {
		return err
	}
	p, err := MakePlan(ctx, m, l, f, os.Getenv("TARGET"))
	if err != nil {
		return err
	}
	_, err = Apply(ctx, p, BuildOptions{})
	return err
}

func newFetcherErr(cache string) (*fetch.Fetcher, error) {
	return fetch.New(fetch.Options{CacheDir: cache})
}

// bigISO is liveISO with size bytes of incompressible payload, so that
// writing it takes long enough to be killed in the middle.
func bigISO(t *testing.T, dir, name, marker string, size int) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-tree")
	payload := make([]byte, size)
	rand.New(rand.NewSource(int64(len(marker)))).Read(payload)
	for p, data := range map[string][]byte{
		"live/vmlinuz":             []byte("kernel " + marker + strings.Repeat("k", 300<<10)),
		"live/initrd.img":          []byte("initrd " + marker),
		"live/filesystem.squashfs": append([]byte("squashfs "+marker), payload...),
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
		if err := os.WriteFile(filepath.Join(tree, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, name+".iso")
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "LIVE_"+strings.ToUpper(marker), "-R", "-J",
		"--modification-date=2020010100000000", "-o", iso, tree)
	return iso
}

// TestConvergeSurvivesKill9 kills an apply process with SIGKILL at 50
// seeded random moments spread over a whole in-place apply (planning,
// writing two 12 MiB ISOs, the commit, verifying), on an image file and on
// a loop device, and checks after each kill what checkKit checks, then
// that a rerun converges. Then 25 more on each for a two-step apply
// (TestConvergeTwoStepsSurvivesKill9).
func TestConvergeSurvivesKill9(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "100 killed applies take minutes; skipped with -short")
	}
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	b2, c := bigISO(t, v2, "beta", "b2", 12<<20), bigISO(t, v2, "gamma", "c", 12<<20)
	cache := filepath.Join(dir, "cache")
	one := kitWith(t, dir, "firmware: [bios, uefi-x64]\nsize: 128MiB", a, b)
	pristine := filepath.Join(dir, "pristine.img")
	build(t, one, cache, pristine)
	two := kitWith(t, dir, "firmware: [bios, uefi-x64]\nsize: 128MiB", b2, c)
	l, err := ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	newKit := planAgainst(t, two, cache, filepath.Join(dir, "none.img")).desired.Kit
	oldKit := checkKit(t, pristine).State.Kit
	killBoth(t, dir, pristine, two.File, cache, oldKit, newKit, 50, "old", "new")
	t.Run("two-step", func(t *testing.T) { killTwoSteps(t, 25) })
}

// killTwoSteps kills a two-step apply (a 40 MiB ISO replaced on a size:
// auto kit, see tightKits) at points seeded random moments, on an image
// and a loop device: kills before the first commit leave the old kit,
// between the commits the interim one (checkKit: its menu names only
// complete ISOs), after the second the new one. Both steps must be hit
// (old and interim kits left); the short read-back after the second
// commit is hit by chance.
func killTwoSteps(t *testing.T, points int) {
	dir, cache, img, two := tightKits(t)
	pristine := filepath.Join(dir, "pristine.img")
	testenv.Run(t, "cp", "--sparse=always", img, pristine)
	l, err := ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	p := planAgainst(t, two, cache, img)
	if p.Diff.Steps != 2 {
		t.Fatalf("the kit converges in %d steps, want 2", p.Diff.Steps)
	}
	oldKit, newKit := checkKit(t, pristine).State.Kit, p.desired.Kit
	killBoth(t, dir, pristine, two.File, cache, oldKit, newKit, points, "old", "interim")
}

// killBoth runs killAt on an image file and on a loop device in dir, each
// restored from pristine before every run.
func killBoth(t *testing.T, dir, pristine, manifest, cache, oldKit, newKit string, points int, want ...string) {
	// The image and the loop device are independent targets: killed in
	// parallel they use both cores (each kill reruns a -race binary).
	t.Run("image", func(t *testing.T) {
		t.Parallel()
		img := filepath.Join(dir, "kit.img")
		restore := func() { testenv.Run(t, "cp", "--sparse=always", pristine, img) }
		killAt(t, manifest, cache, img, restore, oldKit, newKit, points, want...)
	})
	t.Run("loop", func(t *testing.T) {
		t.Parallel()
		testenv.Tools(t, "losetup")
		testenv.Loop(t)
		back := filepath.Join(dir, "loop.img")
		testenv.Run(t, "cp", "--sparse=always", pristine, back)
		loop := strings.TrimSpace(testenv.Run(t, "losetup", "--find", "--show", back))
		defer testenv.Run(t, "losetup", "-d", loop)
		restore := func() { copyInto(t, pristine, loop) }
		killAt(t, manifest, cache, loop, restore, oldKit, newKit, points, want...)
	})
}

func copyInto(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Sync(); err != nil {
		t.Fatal(err)
	}
}

// killAt kills an apply of manifest to target at points seeded random
// moments and checks the kit after each kill and after a rerun; every
// state in want ("old", "interim", "new") must be left by some kill.
func killAt(t *testing.T, manifest, cache, target string, restore func(), oldKit, newKit string, points int, want ...string) {
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "COMPOSE_TEST_APPLY_CHILD=1", "MANIFEST="+manifest, "CACHE="+cache, "TARGET="+target)
		return cmd
	}
	// Kill moments spread over the longest of three whole applies: on a
	// loaded machine one run can be quick and leave every kill before the
	// commit (a kill after the end is counted as "finished").
	var whole time.Duration
	for range 3 {
		restore()
		start := time.Now()
		if out, err := child().CombinedOutput(); err != nil {
			t.Fatalf("uninterrupted apply: %v\n%s", err, out)
		}
		whole = max(whole, time.Since(start))
		if k := checkKit(t, target).State.Kit; k != newKit {
			t.Fatal("uninterrupted apply did not converge")
		}
	}
	r := rand.New(rand.NewSource(15))
	seen := map[string]int{}
	for i := 0; i < points; i++ {
		restore()
		cmd := child()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		at := time.Duration(r.Int63n(int64(whole)))
		time.Sleep(at)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		st := checkKit(t, target).State
		switch k := st.Kit; {
		case err == nil:
			seen["finished"]++
		case st.Interim && k == newKit:
			seen["interim"]++
		case k == oldKit:
			seen["old"]++
		case k == newKit:
			seen["new"]++
		default:
			t.Fatalf("killed at %v: kit %s is neither old nor new", at, k)
		}
		if out, err := child().CombinedOutput(); err != nil {
			t.Fatalf("rerun after a kill at %v: %v\n%s", at, err, out)
		}
		if st := checkKit(t, target).State; st.Kit != newKit || st.Interim {
			t.Fatalf("rerun after a kill at %v did not converge", at)
		}
	}
	for _, w := range want {
		if seen[w] == 0 {
			t.Errorf("kills left %v; want each of %v", seen, want)
			break
		}
	}
	t.Logf("an uninterrupted apply takes %v; %d kills left %v", whole, points, seen)
}

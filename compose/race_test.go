package compose

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// The target races: what another process does to the image path while an
// apply runs. F2: the path is swapped for a symbolic link to a device (or
// its directory replaced) between the check and the write. F5: two applies
// write one image at once.

// TestApplyDoesNotFollowASwappedTarget converges kit two onto an image
// holding kit one; once the plan is made (the target checked and read),
// the image is moved aside and its path made a symbolic link to a loop
// device holding a copy of kit one, a device never named with --device.
// The loop device must be left alone: the kit goes to the file that was
// checked, and apply says the path no longer names it.
func TestApplyDoesNotFollowASwappedTarget(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "losetup")
	dir, cache, img, two := twoKits(t, "uefi-x64")
	dev := loopDevice(t, 256<<20)
	copyInto(t, img, dev)
	before := sha256File(t, dev)
	k := loadKit(t, two, cache)
	moved := filepath.Join(dir, "kit.real")
	swap := func(*Plan) {
		if err := os.Rename(img, moved); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(dev, img); err != nil {
			t.Error(err)
		}
	}
	_, err := k.Apply(context.Background(), ApplyOptions{Image: img, Planned: swap})
	if sha256File(t, dev) != before {
		t.Fatalf("the loop device behind the swapped-in link was written")
	}
	if !errors.Is(err, imagefile.ErrTargetMoved) || !strings.Contains(err.Error(), "the kit was written to the file that was there when apply started") ||
		strings.Count(err.Error(), "replaced") != 1 { // it said so twice, in two wordings
		t.Fatalf("Apply: got %v, want imagefile.ErrTargetMoved", err)
	}
	if fi, err := os.Lstat(img); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if tg := checkKit(t, moved); !holdsISO(tg, "gamma") {
		t.Errorf("the checked file does not hold kit two: %+v", tg.State.ISOs)
	}
}

// TestApplyRecreateDoesNotReplaceASwappedTarget: the same swap during a
// full rewrite, and the image's directory replaced during a new build:
// nothing is renamed into place, the moved file keeps kit one, and no
// temporary file is left.
func TestApplyRecreateDoesNotReplaceASwappedTarget(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir, cache, img, two := twoKits(t, "uefi-x64")
	k := loadKit(t, two, cache)
	moved := filepath.Join(dir, "kit.real")
	kitOne := sha256File(t, img)
	swap := func(*Plan) {
		if err := os.Rename(img, moved); err != nil {
			t.Error(err)
		}
		if err := os.Symlink("/dev/null", img); err != nil {
			t.Error(err)
		}
	}
	_, err := k.Apply(context.Background(), ApplyOptions{Image: img, Recreate: true, Planned: swap})
	if !errors.Is(err, imagefile.ErrTargetMoved) || !strings.Contains(err.Error(), "the new image was discarded") {
		t.Fatalf("Apply --recreate: got %v, want imagefile.ErrTargetMoved", err)
	}
	if fi, err := os.Lstat(img); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v", err)
	}
	if sha256File(t, moved) != kitOne {
		t.Errorf("the moved file was changed")
	}
	assertNoTemporaries(t, dir)

	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	replaceDir := func(*Plan) {
		if err := os.Rename(sub, sub+".old"); err != nil {
			t.Error(err)
		}
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Error(err)
		}
	}
	_, err = k.Apply(context.Background(), ApplyOptions{Image: filepath.Join(sub, "kit.img"), Planned: replaceDir})
	if !errors.Is(err, imagefile.ErrTargetMoved) {
		t.Fatalf("Apply with the directory replaced: got %v, want imagefile.ErrTargetMoved", err)
	}
	for _, d := range []string{sub, sub + ".old"} {
		if entries, _ := os.ReadDir(d); len(entries) > 0 {
			t.Errorf("%s holds %s", d, entries[0].Name())
		}
	}
}

// TestRaceChild is not a test: the race tests run the test binary with
// COMPOSE_RACE_CHILD=1 as a second compose process, which applies
// $MANIFEST (locked and cached in $CACHE) to $TARGET through Kit.Apply.
// With BLOCK=1 it prints "planned" once its plan is made (its target
// opened and locked) and waits for its standard input to close before it
// writes. It exits 5 when the target was refused as busy.
func TestRaceChild(t *testing.T) {
	if os.Getenv("COMPOSE_RACE_CHILD") != "1" {
		return
	}
	k, err := Load(os.Getenv("MANIFEST"), Options{Fetch: fetch.Options{CacheDir: os.Getenv("CACHE"), Offline: true}})
	if err == nil {
		opts := ApplyOptions{Image: os.Getenv("TARGET"), Recreate: os.Getenv("RECREATE") == "1"}
		if os.Getenv("BLOCK") == "1" {
			opts.Planned = func(*Plan) {
				fmt.Println("planned")
				io.Copy(io.Discard, os.Stdin)
			}
		}
		_, err = k.Apply(context.Background(), opts)
	}
	code := 0
	switch {
	case errors.Is(err, imagefile.ErrTargetBusy):
		code = 5
	case err != nil:
		code = 1
	}
	fmt.Fprintln(os.Stderr, err)
	os.Exit(code)
}

// child is a second apply process (TestRaceChild).
type racer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer
}

func startRacer(t *testing.T, m *config.Manifest, cache, target string, env ...string) *racer {
	t.Helper()
	c := &racer{cmd: exec.Command(os.Args[0], "-test.run=^TestRaceChild$")}
	c.cmd.Env = append(os.Environ(), append([]string{"COMPOSE_RACE_CHILD=1", "MANIFEST=" + m.File, "CACHE=" + cache, "TARGET=" + target}, env...)...)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	planned := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if s.Text() == "planned" {
				planned <- true
			}
		}
		close(planned)
	}()
	if slicesContain(env, "BLOCK=1") {
		select {
		case ok := <-planned:
			if !ok {
				c.cmd.Wait()
				t.Fatalf("the first apply ended before its plan: %s", c.stderr.String())
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("the first apply did not reach its plan in 2 minutes")
		}
	}
	return c
}

// wait lets the child go on and returns its exit code.
func (c *racer) wait() int {
	c.stdin.Close()
	c.cmd.Wait()
	return c.cmd.ProcessState.ExitCode()
}

func slicesContain(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// raceKits builds kit one into an image and locks and caches kits two
// and three (each in a directory of its own).
func raceKits(t *testing.T) (dir, cache, img string, two, three *config.Manifest) {
	t.Helper()
	testenv.Tools(t, "xorriso", "fsck.fat")
	dir = t.TempDir()
	cache, img = filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	manifest := func(name, marker string) *config.Manifest {
		d := filepath.Join(dir, name)
		os.Mkdir(d, 0o755)
		m := kitWith(t, d, "firmware: [uefi-x64]\nsize: 64MiB", bigISO(t, d, name, marker, 4<<20))
		loadKit(t, m, cache)
		return m
	}
	build(t, manifest("alpha", "a"), cache, img)
	return dir, cache, img, manifest("beta", "b"), manifest("gamma", "c")
}

// loadKit loads m with its cache, writing its lock and fetching its ISOs.
func loadKit(t *testing.T, m *config.Manifest, cache string) *Kit {
	t.Helper()
	k, err := Load(m.File, Options{Fetch: fetch.Options{CacheDir: cache}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Fetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	return k
}

// TestApplyExcludesSecondWriter: while one apply process holds an image
// (stopped after its plan), a second one is refused at once, naming the
// first by its PID, and changes nothing; plan says the image is being
// written. Once the first goes on it finishes, and the image holds its
// kit, fsck-clean. The same for a new image path, where the first apply's
// locked temporary file is what the second finds.
func TestApplyExcludesSecondWriter(t *testing.T) {
	dir, cache, img, two, three := raceKits(t)
	first := startRacer(t, two, cache, img, "BLOCK=1")
	pid := fmt.Sprintf("PID %d", first.cmd.Process.Pid)
	before := sha256File(t, img)
	second := startRacer(t, three, cache, img)
	if code := second.wait(); code != 5 || !strings.Contains(second.stderr.String(), "another process is writing it ("+pid) {
		t.Fatalf("second apply: exit %d, %s; want exit 5 naming %s", code, second.stderr.String(), pid)
	}
	if sha256File(t, img) != before {
		t.Fatal("the refused apply changed the image")
	}
	p, err := loadKit(t, three, cache).Plan(context.Background(), img)
	if err != nil || !strings.Contains(strings.Join(p.Warnings, "\n"), "kit.img is being written by another process ("+pid) {
		t.Errorf("plan while the image is locked: warnings %q, %v", p.Warnings, err)
	}
	if code := first.wait(); code != 0 {
		t.Fatalf("first apply: exit %d: %s", code, first.stderr.String())
	}
	if tg := checkKit(t, img); !holdsISO(tg, "beta") {
		t.Errorf("the image does not hold the first apply's kit: %+v", tg.State.ISOs)
	}

	fresh := filepath.Join(dir, "new.img")
	first = startRacer(t, two, cache, fresh, "BLOCK=1")
	pid = fmt.Sprintf("PID %d", first.cmd.Process.Pid)
	second = startRacer(t, three, cache, fresh)
	if code := second.wait(); code != 5 || !strings.Contains(second.stderr.String(), "another process ("+pid) {
		t.Fatalf("second apply to a new path: exit %d, %s; want exit 5 naming %s", code, second.stderr.String(), pid)
	}
	if code := first.wait(); code != 0 {
		t.Fatalf("first apply to a new path: exit %d: %s", code, first.stderr.String())
	}
	if tg := checkKit(t, fresh); !holdsISO(tg, "beta") {
		t.Errorf("the new image does not hold the first apply's kit: %+v", tg.State.ISOs)
	}
	assertNoTemporaries(t, dir)
}

// TestApplyRaceLeavesAKit is the finding's reproduction: two apply
// processes started together on one image, in place and on a new path, a
// few times over. Each round, every apply either succeeds or is refused
// as busy (exit 5), and the image is an fsck-clean kit of one that
// succeeded.
func TestApplyRaceLeavesAKit(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "racing apply processes takes a while; skipped with -short")
	}
	dir, cache, img, two, three := raceKits(t)
	for round := range 6 {
		target := img
		if round%3 == 2 {
			target = filepath.Join(dir, fmt.Sprintf("new%d.img", round))
		}
		b, c := startRacer(t, two, cache, target), startRacer(t, three, cache, target)
		codes := map[string]int{"beta": b.wait(), "gamma": c.wait()}
		for name, code := range codes {
			if code != 0 && code != 5 {
				t.Fatalf("round %d: the %s apply failed (exit %d): %s%s", round, name, code, b.stderr.String(), c.stderr.String())
			}
		}
		if codes["beta"] != 0 && codes["gamma"] != 0 {
			if _, err := os.Stat(target); target != img && err == nil {
				t.Fatalf("round %d: both refused, yet %s exists", round, target)
			}
			continue // both started at once and saw each other: nothing written
		}
		tg := checkKit(t, target)
		if !(codes["beta"] == 0 && holdsISO(tg, "beta")) && !(codes["gamma"] == 0 && holdsISO(tg, "gamma")) {
			t.Fatalf("round %d: exits %v, but the image holds %+v", round, codes, tg.State.ISOs)
		}
	}
	assertNoTemporaries(t, dir)
}

func holdsISO(tg *converge.Target, name string) bool {
	for _, iso := range tg.State.ISOs {
		if iso.Name == name {
			return true
		}
	}
	return false
}

// TestVerifyExcludesApply: verify and compose test read an image while no
// apply writes it. Found by the recheck pass: a verify that started 10-50
// ms before a two-step apply read the ISO the apply was replacing in its
// freed clusters and reported it changed (exit 4, "rewrite the kit in
// full"), a false alarm; one started inside the apply called the kit
// "the interim kit of an interrupted two-step apply". Now Verify is
// refused while an apply holds the image, naming it; an apply is refused
// while a verify or a boot test reads it; and plan only notes the reader.
func TestVerifyExcludesApply(t *testing.T) {
	_, cache, img, two, three := raceKits(t)
	first := startRacer(t, two, cache, img, "BLOCK=1")
	pid := fmt.Sprintf("PID %d", first.cmd.Process.Pid)
	_, err := Verify(context.Background(), VerifyOptions{Targets: []string{img}})
	if !errors.Is(err, imagefile.ErrTargetBusy) || !errors.Is(err, ErrUnsafeTarget) || !strings.Contains(err.Error(), "another process is writing it ("+pid) {
		t.Fatalf("verify while an apply holds the image: %v; want imagefile.ErrTargetBusy naming %s", err, pid)
	}
	if code := first.wait(); code != 0 {
		t.Fatalf("the apply: exit %d: %s", code, first.stderr.String())
	}
	if v, err := verifyOne(t, img); err != nil || !v.OK {
		t.Fatalf("verify once the apply ended: %+v, %v", v, err)
	}

	reading, err := imagefile.OpenReading(img, "verify") // as Verify holds it while it reads
	if err != nil {
		t.Fatal(err)
	}
	before := sha256File(t, img)
	k := loadKit(t, three, cache)
	_, err = k.Apply(context.Background(), ApplyOptions{Image: img})
	if !errors.Is(err, imagefile.ErrTargetBusy) || !strings.Contains(err.Error(), "another process is reading it (PID") {
		t.Fatalf("apply while verify reads: %v; want imagefile.ErrTargetBusy, reading", err)
	}
	reading.Close()

	run, err := k.BootTest(context.Background(), TestOptions{Image: img})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); !errors.Is(err, imagefile.ErrTargetBusy) {
		t.Fatalf("apply while compose test boots the image: %v; want imagefile.ErrTargetBusy", err)
	}
	if sha256File(t, img) != before {
		t.Fatal("a refused apply changed the image")
	}
	run.Close()
	if _, err := k.Apply(context.Background(), ApplyOptions{Image: img}); err != nil {
		t.Fatalf("apply once the readers are gone: %v", err)
	}
}

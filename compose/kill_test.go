package compose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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
	// killAt's marks: kills during Apply only, or after a read-back.
	fmt.Println(applying)
	_, err = Apply(ctx, p, BuildOptions{Progress: func(e Event) {
		if e.Phase == PhaseVerify && e.State == Done {
			fmt.Println(verified)
		}
	}})
	return err
}

const applying, verified = "applying", "verified"

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
// (killTwoSteps), and 25 on each for a kit with its ISOs on ext4
// (killData), in parallel with the first.
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
	killBoth(t, dir, pristine, kill{manifest: two.File, cache: cache, oldKit: oldKit, newKit: newKit, points: 50, want: []string{"old", "new"}})
	t.Run("two-step", func(t *testing.T) { killTwoSteps(t, 25) })
	t.Run("ext4", func(t *testing.T) {
		t.Parallel()
		killData(t, 25)
	})
}

// killData kills an apply that replaces, adds and removes ISOs on the ext4
// data partition (storage: data) at points seeded moments, on an image and
// a loop device. checkKit reads every menu entry's ISO without journal
// replay, as GRUB does, and runs e2fsck -fn on a copy after replay. Kills
// must leave both the old and the new kit.
func killData(t *testing.T, points int) {
	testenv.Tools(t, "e2fsck", "debugfs")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	b2, c := bigISO(t, v2, "beta", "b2", 4<<20), bigISO(t, v2, "gamma", "c", 4<<20)
	cache, pristine := filepath.Join(dir, "cache"), filepath.Join(dir, "pristine.img")
	top := "firmware: [uefi-x64]\nstorage: data\nsize: 64MiB"
	build(t, kitWith(t, dir, top, a, b), cache, pristine)
	two := kitWith(t, dir, top, b2, c)
	l, err := ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	newKit := planAgainst(t, two, cache, filepath.Join(dir, "none.img")).desired.Kit
	oldKit := checkKit(t, pristine).State.Kit
	killBoth(t, dir, pristine, kill{manifest: two.File, cache: cache, oldKit: oldKit, newKit: newKit, points: points,
		want: []string{"old", "new"}, duringApply: true})
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
	killBoth(t, dir, pristine, kill{manifest: two.File, cache: cache, oldKit: oldKit, newKit: newKit, points: points, want: []string{"old", "interim"}})
}

// kill is one kill -9 test: the apply of manifest (its ISOs in cache) to a
// target holding oldKit, killed at points seeded moments; every state in
// want ("old", "interim", "new") must be left by some kill.
type kill struct {
	manifest, cache, oldKit, newKit string
	points                          int
	want                            []string
	// duringApply spreads the kills over Apply alone, after planning:
	// where a small change's writes are a short part of the whole run.
	// Every other kill then falls after the second read-back (the ESP's,
	// with an ext4 change): the short tail after the menu swap.
	duringApply bool
}

// killBoth runs killAt on an image file and on a loop device in dir, each
// restored from pristine before every run.
func killBoth(t *testing.T, dir, pristine string, k kill) {
	// The image and the loop device are independent targets: killed in
	// parallel they use both cores (each kill reruns a -race binary).
	t.Run("image", func(t *testing.T) {
		t.Parallel()
		img := filepath.Join(dir, "kit.img")
		restore := func() { testenv.Run(t, "cp", "--sparse=always", pristine, img) }
		killAt(t, k, img, restore)
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
		killAt(t, k, loop, restore)
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

// killAt kills an apply to target at k.points seeded moments and checks
// the kit after each kill and after a rerun.
func killAt(t *testing.T, k kill, target string, restore func()) {
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "COMPOSE_TEST_APPLY_CHILD=1", "MANIFEST="+k.manifest, "CACHE="+k.cache, "TARGET="+target)
		return cmd
	}
	// Kill moments spread over the longest of three whole applies: on a
	// loaded machine one run can be quick and leave every kill before the
	// commit (a kill after the end is counted as "finished").
	windows := k.windows()
	for range 3 {
		restore()
		cmd := child()
		mark, err := startChild(cmd)
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			t.Fatalf("uninterrupted apply: %v", err)
		}
		for i := range windows {
			from, err := mark.at(windows[i].line, windows[i].n)
			if err != nil {
				t.Fatal(err)
			}
			windows[i].length = max(windows[i].length, time.Since(from))
		}
		if kt := checkKit(t, target).State.Kit; kt != k.newKit {
			t.Fatal("uninterrupted apply did not converge")
		}
	}
	r := rand.New(rand.NewSource(15))
	seen, data := map[string]int{}, map[string]int{}
	for i := 0; i < k.points; i++ {
		restore()
		cmd := child()
		mark, err := startChild(cmd)
		if err != nil {
			t.Fatal(err)
		}
		w := windows[i%len(windows)]
		start, err := mark.at(w.line, w.n)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Duration(r.Int63n(int64(w.length)))
		time.Sleep(time.Until(start.Add(at)))
		cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		tg := checkKit(t, target)
		if tg.Data != nil {
			data[dataPhase(tg, k.oldKit, k.newKit)]++
		}
		st := tg.State
		switch kt := st.Kit; {
		case err == nil:
			seen["finished"]++
		case st.Interim && kt == k.newKit:
			seen["interim"]++
		case kt == k.oldKit:
			seen["old"]++
		case kt == k.newKit:
			seen["new"]++
		default:
			t.Fatalf("killed at %v: kit %s is neither old nor new", at, kt)
		}
		if out, err := child().CombinedOutput(); err != nil {
			t.Fatalf("rerun after a kill at %v: %v\n%s", at, err, out)
		}
		if tg := checkKit(t, target); tg.State.Kit != k.newKit || tg.State.Interim || (tg.Data != nil && (tg.Data.Recovery || len(tg.Data.Leftovers) > 0)) {
			t.Fatalf("rerun after a kill at %v did not converge", at)
		}
	}
	for _, w := range k.want {
		if seen[w] == 0 {
			t.Errorf("kills left %v; want each of %v", seen, k.want)
			break
		}
	}
	t.Logf("kill windows %+v; %d kills left %v", windows, k.points, seen)
	if len(data) > 0 {
		t.Logf("the data partition after the kills: %v", data)
	}
}

// window is a span of an apply to kill in: from the nth time the child
// prints line ("" for its start) for length.
type window struct {
	line   string
	n      int
	length time.Duration
}

func (k kill) windows() []window {
	if !k.duringApply {
		return []window{{}}
	}
	return []window{{line: applying, n: 1}, {line: verified, n: 2}}
}

// startChild starts cmd, its output marked.
func startChild(cmd *exec.Cmd) (*marker, error) {
	mark := &marker{times: map[string][]time.Time{}}
	cmd.Stdout, cmd.Stderr = mark, os.Stderr
	mark.start = time.Now()
	return mark, cmd.Start()
}

// marker records when the child printed each line.
type marker struct {
	mu    sync.Mutex
	start time.Time
	buf   []byte
	times map[string][]time.Time
}

func (m *marker) Write(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.buf = append(m.buf, b...)
	for i := bytes.IndexByte(m.buf, '\n'); i >= 0; i = bytes.IndexByte(m.buf, '\n') {
		line := string(m.buf[:i])
		m.buf = m.buf[i+1:]
		m.times[line] = append(m.times[line], time.Now())
	}
	return len(b), nil
}

// at waits for the nth line printed as line ("": the start) and says when.
func (m *marker) at(line string, n int) (time.Time, error) {
	if line == "" {
		return m.start, nil
	}
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m.mu.Lock()
		ts := m.times[line]
		m.mu.Unlock()
		if len(ts) >= n {
			return ts[n-1], nil
		}
	}
	return time.Time{}, fmt.Errorf("the apply child did not print %q %d times", line, n)
}

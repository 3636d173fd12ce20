package compose

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/fatedit"
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
// $CACHE): the library calls compose apply makes, content written in
// $CHUNK-byte writes. It numbers the points where it can be stopped (see
// stopPoints) and, with $STOP_AT set, waits at that point to be killed.
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
	sp := &stopPoints{stop: -1}
	if s := os.Getenv("STOP_AT"); s != "" {
		if sp.stop, err = strconv.Atoi(s); err != nil {
			return err
		}
	}
	opts := BuildOptions{
		wrap:         func(f *os.File) fatedit.Device { sp.File = f; return sp },
		beforeVerify: func() { sp.reach(pointReadBack, 0, 0) },
		Progress: func(e Event) {
			if e.Phase == PhasePlace {
				fmt.Println(pointContent) // the write just reported was file content
			}
		},
	}
	if opts.chunk, err = strconv.Atoi(os.Getenv("CHUNK")); err != nil {
		return err
	}
	if _, err := Build(ctx, p, opts); err != nil {
		return err
	}
	sp.reach(pointEnd, 0, 0)
	return nil
}

func newFetcherErr(cache string) (*fetch.Fetcher, error) {
	return fetch.New(fetch.Options{CacheDir: cache})
}

// The child's stop points: before each write to the target, before each
// read-back, and after Apply returned. Nothing else changes the target, so
// kills at them reach every state a kill between two writes leaves,
// whatever the machine's load. A kill inside one write is not among them:
// Linux stops copying a write at a page boundary once SIGKILL is pending,
// leaving a prefix of it written.
const (
	pointWrite    = "write"
	pointReadBack = "read-back"
	pointEnd      = "end"
	pointContent  = "content"
)

// stopPoints is the child's target: it prints "point I KIND OFFSET LENGTH"
// at each stop point, unbuffered, and at point stop "stopped I", then
// blocks until the parent kills it (or closes its stdin: exit 3).
type stopPoints struct {
	*os.File
	mu      sync.Mutex
	n, stop int
}

func (s *stopPoints) WriteAt(b []byte, off int64) (int, error) {
	s.reach(pointWrite, off, len(b))
	return s.File.WriteAt(b, off)
}

func (s *stopPoints) reach(kind string, off int64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Printf("point %d %s %d %d\n", s.n, kind, off, n)
	if s.n == s.stop {
		fmt.Printf("stopped %d\n", s.n)
		io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}
	s.n++
}

// bigISO is liveISO with size bytes of incompressible payload, so that
// writing it takes many writes to stop between.
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

// TestConvergeSurvivesKill9 kills an apply process with SIGKILL at 50 of
// its numbered stop points (the child waits there to be killed: the
// points, not the machine's speed, decide where), spread over a whole
// in-place apply (two 12 MiB ISOs written, the commit, the read-back), on
// an image file and on a loop device, and checks after each kill what
// checkKit checks, then that a rerun converges. Then 25 more on each for
// a two-step apply (killTwoSteps), and 25 on each for a kit with its ISOs
// on ext4 (killData), in parallel with the first.
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
	l, err := pin.ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	newKit := planAgainst(t, two, cache, filepath.Join(dir, "none.img")).desired.Kit
	oldKit := checkKit(t, pristine).State.Kit
	killBoth(t, dir, pristine, kill{manifest: two.File, cache: cache, oldKit: oldKit, newKit: newKit, points: 50,
		chunk: 1 << 20, want: []string{"old", "new"}})
	t.Run("two-step", func(t *testing.T) { killTwoSteps(t, 25) })
	t.Run("ext4", func(t *testing.T) {
		t.Parallel()
		killData(t, 25)
	})
}

// killData kills an apply that replaces, adds and removes ISOs on the ext4
// data partition (storage: data) at points of its stop points, on an image
// and a loop device. checkKit reads every menu entry's ISO without journal
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
	// beta keeps its changes on a persistence partition, holding the
	// user's work, while its ISO is replaced.
	top := "firmware: [uefi-x64]\nstorage: data\nsize: 136MiB\n"
	build(t, persistKit(t, dir, []string{a, b}, []string{"", "64MiB"}, top), cache, pristine)
	two := persistKit(t, dir, []string{b2, c}, []string{"64MiB", ""}, top)
	l, err := pin.ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	newKit := planAgainst(t, two, cache, filepath.Join(dir, "none.img")).desired.Kit
	old := checkKit(t, pristine)
	k := kill{manifest: two.File, cache: cache, oldKit: old.State.Kit, newKit: newKit, points: points,
		chunk: 1 << 20, want: []string{"old", "new"}}
	for _, pt := range old.Persistence {
		k.persist = append(k.persist, persisted{pt, sha256Of(t, bytes.NewReader(userWork(t, pristine, pt)))})
	}
	if len(k.persist) != 1 {
		t.Fatalf("the kit has %d persistence partitions, want 1", len(k.persist))
	}
	killBoth(t, dir, pristine, k)
}

// persisted is a persistence partition and the SHA-256 of its bytes,
// which no apply, killed or not, may change.
type persisted struct {
	converge.TargetPersistence
	sha256 string
}

// checkPersisted compares every persistence partition of target with
// its bytes before the apply.
func (k kill) checkPersisted(t *testing.T, target, when string) {
	t.Helper()
	for _, p := range k.persist {
		f, err := os.Open(target)
		if err != nil {
			t.Fatal(err)
		}
		got := sha256Of(t, io.NewSectionReader(f, p.Offset, p.Size))
		f.Close()
		if got != p.sha256 {
			t.Fatalf("%s: the persistence partition of %s changed", when, p.Entry)
		}
	}
}

// killTwoSteps kills a two-step apply (a 40 MiB ISO replaced on a size:
// auto kit, see tightKits) at points of its stop points, on an image and
// a loop device: kills before the first commit leave the old kit, between
// the commits the interim one (checkKit: its menu names only complete
// ISOs), after the second the new one.
func killTwoSteps(t *testing.T, points int) {
	dir, cache, img, two := tightKits(t)
	pristine := filepath.Join(dir, "pristine.img")
	testenv.Run(t, "cp", "--sparse=always", img, pristine)
	l, err := pin.ResolveLock(context.Background(), two, newFetcher(t, cache))
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
	killBoth(t, dir, pristine, kill{manifest: two.File, cache: cache, oldKit: oldKit, newKit: newKit, points: points,
		chunk: 4 << 20, want: []string{"old", "interim", "new"}})
}

// kill is one kill -9 test: the apply of manifest (its ISOs in cache) to a
// target holding oldKit, killed at points of its stop points; every state
// in want ("old", "interim", "new") must be left by some kill.
type kill struct {
	manifest, cache, oldKit, newKit string
	points                          int
	chunk                           int // the child's content write size
	want                            []string
	persist                         []persisted // checked byte for byte after every kill and rerun
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

// copyInto writes the file from over the device to, whole (dd: a copy
// in this -race binary costs the race detector's bookkeeping of every
// byte), and syncs it.
func copyInto(t *testing.T, from, to string) {
	t.Helper()
	testenv.Run(t, "dd", "if="+from, "of="+to, "bs=4M", "conv=fsync", "status=none")
}

// killAt numbers the stop points of an uninterrupted apply to target,
// kills an apply at k.points of them (pickPoints) and checks the kit after
// each kill and after a rerun. The kit a kill leaves never goes back as
// the points advance (old, then interim, then new).
func killAt(t *testing.T, k kill, target string, restore func()) {
	restore()
	pts := k.census(t, target)
	picks := pickPoints(pts, k.points, 15)
	seen, data, order := map[string]int{}, map[string]int{}, []string{}
	byRegion := map[string][]string{}
	last := ""
	for _, i := range picks {
		restore()
		left, phase := k.killOnce(t, target, i, pts)
		if slices.Index(kitOrder, left) < slices.Index(kitOrder, last) {
			t.Fatalf("killed at point %d (%s): the %s kit, after an earlier point left the %s one", i, pts[i].region, left, last)
		}
		last = left
		seen[left]++
		if phase != "" {
			data[phase]++
		}
		if !slices.Contains(order, pts[i].region) {
			order = append(order, pts[i].region)
		}
		byRegion[pts[i].region] = append(byRegion[pts[i].region], fmt.Sprintf("%d:%s", i, left))
	}
	var log strings.Builder
	for _, r := range order {
		fmt.Fprintf(&log, "\n  %-22s %s", r, strings.Join(byRegion[r], " "))
	}
	t.Logf("%d kills at %d of %d stop points left %v (point:kit by region):%s", len(picks), len(picks), len(pts), seen, log.String())
	if len(data) > 0 {
		t.Logf("the data partition after the kills: %v", data)
	}
	for _, w := range k.want {
		if seen[w] == 0 {
			t.Errorf("kills left %v; want each of %v", seen, k.want)
			break
		}
	}
}

// killOnce kills the apply to target at point i, checks the kit it left
// (old, interim or new; for a kit with a data partition also what that
// holds, dataPhase) and that a rerun converges.
func (k kill) killOnce(t *testing.T, target string, i int, pts []point) (left, phase string) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("the apply was killed at point %d of %d (%s)", i, len(pts), pts[i].region)
		}
	}()
	k.killAtPoint(t, target, i, pts)
	k.checkPersisted(t, target, "after the kill")
	tg := checkKit(t, target)
	if tg.Data != nil {
		phase = dataPhase(tg, k.oldKit, k.newKit)
	}
	switch kt := tg.State.Kit; {
	case tg.State.Interim && kt == k.newKit:
		left = "interim"
	case kt == k.oldKit:
		left = "old"
	case kt == k.newKit:
		left = "new"
	default:
		t.Fatalf("kit %s is neither old nor new", kt)
	}
	if out, err := k.child(target, -1).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, lastLines(out, 20))
	}
	if tg := checkKit(t, target); tg.State.Kit != k.newKit || tg.State.Interim || (tg.Data != nil && (tg.Data.Recovery || len(tg.Data.Leftovers) > 0)) {
		t.Fatal("the rerun did not converge")
	}
	k.checkPersisted(t, target, "after the rerun")
	return left, phase
}

// kitOrder is the order in which an apply leaves kits.
var kitOrder = []string{"", "old", "interim", "new"}

// child is the apply child for target, stopping at point stop (-1: never).
func (k kill) child(target string, stop int) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "COMPOSE_TEST_APPLY_CHILD=1", "MANIFEST="+k.manifest, "CACHE="+k.cache,
		"TARGET="+target, "CHUNK="+strconv.Itoa(k.chunk))
	if stop >= 0 {
		cmd.Env = append(cmd.Env, "STOP_AT="+strconv.Itoa(stop))
	}
	return cmd
}

// census runs an uninterrupted apply to target and returns its stop
// points, each named by the region of the apply it falls in.
func (k kill) census(t *testing.T, target string) []point {
	t.Helper()
	tg, err := converge.ReadTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	cmd := k.child(target, -1)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("uninterrupted apply: %v", err)
	}
	if kt := checkKit(t, target).State.Kit; kt != k.newKit {
		t.Fatal("uninterrupted apply did not converge")
	}
	k.checkPersisted(t, target, "after the uninterrupted apply")
	pts, _, err := parsePoints(strings.NewReader(string(out)), -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range pts {
		for _, p := range k.persist {
			if pt.kind == pointWrite && pt.off < p.Offset+p.Size && pt.off+int64(pt.n) > p.Offset {
				t.Fatalf("the apply writes %d bytes at %d, inside the persistence partition of %s", pt.n, pt.off, p.Entry)
			}
		}
	}
	nameRegions(pts, tg)
	return pts
}

// killAtPoint starts an apply child that stops at point i, checks that
// it got there the way the census run did, and kills it with SIGKILL.
func (k kill) killAtPoint(t *testing.T, target string, i int, census []point) {
	t.Helper()
	cmd := k.child(target, i)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the child waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pts, stopped, err := parsePoints(stdout, i)
	if stopped {
		cmd.Process.Signal(syscall.SIGKILL)
	}
	werr := cmd.Wait()
	if err != nil || !stopped {
		t.Fatalf("the apply child did not stop at point %d: %v; exit %v", i, err, werr)
	}
	for j := range pts {
		if j >= len(census) || pts[j].kind != census[j].kind || pts[j].off != census[j].off || pts[j].n != census[j].n {
			t.Fatalf("point %d of the apply stopped at %d is %+v; the uninterrupted apply's was %+v", j, i, pts[j], census[min(j, len(census)-1)])
		}
	}
}

// point is one stop point of an apply child.
type point struct {
	kind    string // pointWrite, pointReadBack or pointEnd
	off     int64  // a write's offset on the target
	n       int    // and length
	content bool   // a write of file content (the editor reported progress after it)
	region  string // where in the apply (nameRegions)
}

// parsePoints reads a child's output up to "stopped STOP" (stopped true)
// or its end.
func parsePoints(r io.Reader, stop int) (pts []point, stopped bool, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == pointContent && len(pts) > 0:
			pts[len(pts)-1].content = true
		case len(f) == 2 && f[0] == "stopped":
			return pts, f[1] == strconv.Itoa(stop), nil
		case len(f) == 5 && f[0] == "point" && f[1] == strconv.Itoa(len(pts)):
			p := point{kind: f[2]}
			p.off, _ = strconv.ParseInt(f[3], 10, 64)
			p.n, _ = strconv.Atoi(f[4])
			pts = append(pts, p)
		default:
			return pts, false, fmt.Errorf("the apply child printed %q", sc.Text())
		}
	}
	return pts, false, sc.Err()
}

// nameRegions names the region of the apply each point falls in: the
// start (nothing written), new files (content writes, "esp" or "data"),
// the ESP's swap (its new directories, FSInfo and the one commit write),
// the data partition's journal before the swap, its removals after it,
// the read-backs and the end. A region met again is numbered ("#2").
func nameRegions(pts []point, tg *converge.Target) {
	part := func(off int64) string {
		for _, p := range tg.Partitions {
			if off >= p.Offset && off < p.Offset+p.Size {
				switch p.Index {
				case tg.State.ESPIndex():
					return "esp"
				case tg.State.DataIndex():
					return "data"
				}
			}
		}
		return "disk"
	}
	seen, prev, swapped := map[string]int{}, "", false
	for i := range pts {
		p := &pts[i]
		label := p.kind
		if p.kind == pointWrite {
			switch where := part(p.off); {
			case p.content:
				label = where + " new files"
			case where == "esp":
				label, swapped = "esp swap", true
			case where == "data" && swapped:
				label = "data removals"
			default:
				label = where + " journal"
			}
		}
		if label != prev {
			seen[label]++
			prev = label
		}
		p.region = label
		if seen[label] > 1 {
			p.region = fmt.Sprintf("%s #%d", label, seen[label])
		}
	}
	if len(pts) > 0 {
		pts[0].region = "start"
	}
}

// pickPoints picks n of pts (all when there are no more): the first and
// the last point of every region, every point of the ESP's swaps (a
// handful of writes, the commit among them), the rest seeded at random.
// They come sorted.
func pickPoints(pts []point, n int, seed int64) []int {
	picked := map[int]bool{}
	for i, p := range pts {
		if i == 0 || i == len(pts)-1 || p.region != pts[i-1].region || p.region != pts[i+1].region ||
			strings.HasPrefix(p.region, "esp swap") {
			picked[i] = true
		}
	}
	r := rand.New(rand.NewSource(seed))
	for _, i := range r.Perm(len(pts)) {
		if len(picked) >= n {
			break
		}
		picked[i] = true
	}
	return slices.Sorted(func(yield func(int) bool) {
		for i := range picked {
			if !yield(i) {
				return
			}
		}
	})
}

// lastLines is the end of a child's output.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

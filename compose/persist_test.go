package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
)

// persistKit writes a manifest naming the ISOs, each with the persistence
// size given beside it (0: none), and loads it.
func persistKit(t testing.TB, dir string, isos []string, sizes []string, top ...string) *config.Manifest {
	t.Helper()
	var b strings.Builder
	if len(top) == 0 {
		top = []string{"firmware: [bios, uefi-x64]\n"}
	}
	fmt.Fprintf(&b, "version: 1\nlabel: testkit\n%smenu:\n  console: serial\nisos:\n", strings.Join(top, ""))
	for i, iso := range isos {
		name := strings.TrimSuffix(filepath.Base(iso), ".iso")
		fmt.Fprintf(&b, "  - name: %s\n    path: %s\n    sha256: %q\n    boot: live\n", name, iso, sha256File(t, iso))
		if sizes[i] != "" {
			fmt.Fprintf(&b, "    persistence: %s\n", sizes[i])
		}
	}
	path := filepath.Join(dir, "multiboot.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func persistPart(t *testing.T, p *Plan, entry string) PartitionPlan {
	t.Helper()
	for _, pt := range p.Partitions {
		if pt.Persistence == entry {
			return pt
		}
	}
	t.Fatalf("no persistence partition for %s in %+v", entry, p.Partitions)
	return PartitionPlan{}
}

// TestPersistenceFreshBuild: an entry with persistence gets its own ext4
// partition, the last one, labelled and named as live-boot reads it,
// holding persistence.conf, recorded in the state record, and its menu
// line gets live-boot's arguments.
func TestPersistenceFreshBuild(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "sgdisk", "e2fsck", "debugfs", "mcopy")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	img := filepath.Join(dir, "kit.img")
	p := build(t, persistKit(t, dir, []string{a, b}, []string{"64MiB", ""}), filepath.Join(dir, "cache"), img)
	if len(p.Persistence) != 1 || p.Persistence[0].Action != PersistCreate || p.Persistence[0].Label != "p-alpha" {
		t.Fatalf("plan's persistence: %+v", p.Persistence)
	}
	pt := persistPart(t, p, "alpha")
	if last := p.Partitions[len(p.Partitions)-1]; last.Index != pt.Index || pt.Offset+pt.Size != p.Size-1<<20 || pt.Size != 64<<20 {
		t.Fatalf("persistence partition %+v is not the last 64 MiB before the backup GPT of %d bytes", pt, p.Size)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v: %s", out)
	}
	if out := testenv.Run(t, "sgdisk", "-i", fmt.Sprint(pt.Index), img); !strings.Contains(out, "Partition name: 'p-alpha'") {
		t.Errorf("sgdisk -i: %s", out)
	}
	vol := filepath.Join(dir, "persist.img")
	extract(t, img, vol, pt.Offset, pt.Size)
	if out, err := exec.Command("e2fsck", "-fn", vol).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn: %v\n%s", err, out)
	}
	if out, _ := exec.Command("debugfs", "-R", "cat /persistence.conf", vol).Output(); string(out) != "/ union\n" {
		t.Errorf("persistence.conf holds %q", out)
	}
	if out := testenv.Run(t, "debugfs", "-R", "stats", vol); !strings.Contains(out, "Filesystem volume name:   p-alpha") {
		t.Errorf("label: %s", out)
	}
	tg := checkKit(t, img)
	if len(tg.Persistence) != 1 || tg.Persistence[0].Offset != pt.Offset || tg.Persistence[0].Entry != "alpha" || tg.Persistence[0].GUID == "" {
		t.Fatalf("state record's persistence: %+v", tg.Persistence)
	}
	cfg := readESPFile(t, img, "/boot/grub/grub.cfg")
	for _, line := range strings.Split(cfg, "\n") {
		if strings.Contains(line, "findiso=/isos/") && strings.Contains(line, "persistence-label=p-alpha") != strings.Contains(line, "alpha.iso") {
			t.Errorf("menu line: %s", line)
		}
	}
}

// userWork writes a file into the persistence partition pt of img, as a
// live system would, and returns the partition's bytes.
func userWork(t *testing.T, img string, pt converge.TargetPersistence) []byte {
	t.Helper()
	vol := filepath.Join(t.TempDir(), "vol.img")
	extract(t, img, vol, pt.Offset, pt.Size)
	src := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(src, bytes.Repeat([]byte("the user's work\n"), 50000), 0o644)
	if out, err := exec.Command("debugfs", "-w", "-R", "write "+src+" notes.txt", vol).CombinedOutput(); err != nil {
		t.Fatalf("debugfs write: %v\n%s", err, out)
	}
	b, err := os.ReadFile(vol)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, pt.Offset); err != nil {
		t.Fatal(err)
	}
	return b
}

func persistBytes(t testing.TB, img string, pt converge.TargetPersistence) []byte {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, pt.Size)
	if _, err := f.ReadAt(b, pt.Offset); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPersistenceKeptOnConverge: converging a kit, the entry's own ISO
// replaced, keeps its persistence partition byte for byte with its GPT
// entry, and the plan says kept; dropping the persistence, or changing
// its size, is a rewrite in full that says how much data would go.
func TestPersistenceKeptOnConverge(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "sgdisk", "e2fsck", "debugfs")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	build(t, persistKit(t, dir, []string{a, b}, []string{"64MiB", ""}), cache, img)
	tg := checkKit(t, img)
	pt := tg.Persistence[0]
	work := userWork(t, img, pt)
	gpt := testenv.Run(t, "sgdisk", "-i", fmt.Sprint(pt.Index), img)

	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	a2 := liveISO(t, v2, "alpha", "a2")
	p := planAgainst(t, persistKit(t, dir, []string{a2, b}, []string{"64MiB", ""}), cache, img)
	if len(p.Diff.Recreate) > 0 || ops(p.Diff) != "~iso:alpha" {
		t.Fatalf("diff %s, recreate %v", ops(p.Diff), p.Diff.Recreate)
	}
	if len(p.Persistence) != 1 || p.Persistence[0].Action != PersistKeep || p.Persistence[0].Offset != pt.Offset {
		t.Fatalf("plan's persistence: %+v", p.Persistence)
	}
	if _, err := Build(context.Background(), p, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	checkKit(t, img)
	if !bytes.Equal(persistBytes(t, img, pt), work) {
		t.Fatal("converging changed the persistence partition")
	}
	if now := testenv.Run(t, "sgdisk", "-i", fmt.Sprint(pt.Index), img); now != gpt {
		t.Fatalf("its GPT entry changed:\n%s\nwas\n%s", now, gpt)
	}
	for sizes, want := range map[[2]string]string{{"", ""}: "no longer wanted", {"128MiB", ""}: "changes from 64 MiB"} {
		p := planAgainst(t, persistKit(t, dir, []string{a2, b}, sizes[:]), cache, img)
		if !strings.Contains(strings.Join(p.Diff.Recreate, "; "), want) {
			t.Errorf("%v: recreate %v", sizes, p.Diff.Recreate)
		}
		i := len(p.Persistence) - 1
		if i < 0 || p.Persistence[i].Action != PersistDiscard || p.Persistence[i].Used < 800000 {
			t.Errorf("%v: persistence %+v", sizes, p.Persistence)
		}
	}
}

// TestPersistenceKeptOnRecreate: --recreate keeps a persistence partition
// at its offset with its bytes and GUID, lays the rest out in front, and
// refuses to discard one (removed from the manifest) not named.
func TestPersistenceKeptOnRecreate(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "sgdisk", "e2fsck", "debugfs")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	build(t, persistKit(t, dir, []string{a, b}, []string{"64MiB", ""}, "firmware: [bios, uefi-x64]\nsize: 300MiB\n"), cache, img)
	pt := checkKit(t, img).Persistence[0]
	work := userWork(t, img, pt)

	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	c := liveISO(t, v2, "gamma", "c")
	m := persistKit(t, dir, []string{a, c}, []string{"64MiB", "80MiB"}, "firmware: [bios, uefi-x64]\nsize: 300MiB\n")
	p := planAgainst(t, m, cache, img, PlanOptions{Recreate: true})
	if len(p.Persistence) != 2 || p.Persistence[0].Action != PersistCreate || p.Persistence[1].Action != PersistKeep || p.Persistence[1].Offset != pt.Offset {
		t.Fatalf("plan's persistence: %+v", p.Persistence)
	}
	if _, err := Build(context.Background(), p, BuildOptions{Recreate: true}); err != nil {
		t.Fatal(err)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v: %s", out)
	}
	tg := checkKit(t, img)
	if len(tg.Persistence) != 2 || !bytes.Equal(persistBytes(t, img, pt), work) {
		t.Fatalf("after --recreate: %+v; alpha's bytes kept: %v", tg.Persistence, bytes.Equal(persistBytes(t, img, pt), work))
	}
	for _, h := range tg.Persistence {
		if h.Entry == "alpha" && (h.GUID != pt.GUID || h.Offset != pt.Offset) {
			t.Errorf("alpha's partition moved or changed GUID: %+v, was %+v", h, pt)
		}
	}
	gone := persistKit(t, dir, []string{a, c}, []string{"", "80MiB"}, "firmware: [bios, uefi-x64]\nsize: 300MiB\n")
	p = planAgainst(t, gone, cache, img, PlanOptions{Recreate: true})
	err := p.checkDiscard(nil)
	if !errors.Is(err, ErrPersistenceData) || !strings.Contains(err.Error(), "--discard-persistence alpha") {
		t.Fatalf("discarding alpha's persistence unnamed: %v", err)
	}
	if err := p.checkDiscard([]string{"alpha"}); err != nil {
		t.Fatal(err)
	}
	// on a device, the writer keeps nothing: refused unless named
	if err := keepsNoPersistence([]string{img}, nil); !errors.Is(err, ErrPersistenceData) || !strings.Contains(err.Error(), "--discard-persistence") {
		t.Fatalf("--recreate on a device holding persistence: %v", err)
	}
	if err := keepsNoPersistence([]string{img}, []string{"alpha", "gamma"}); err != nil {
		t.Fatal(err)
	}
}

// TestPersistenceNoContract: persistence on an entry whose detected family
// has no persistence contract (iPXE: efi) fails the plan with the
// entry's manifest position.
func TestPersistenceNoContract(t *testing.T) {
	const ipxe = "/usr/lib/ipxe/ipxe.iso"
	if _, err := os.Stat(ipxe); err != nil {
		testenv.Skip(t, "%s missing (Debian package ipxe)", ipxe)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "multiboot.yaml")
	text := fmt.Sprintf("version: 1\nlabel: testkit\nfirmware: [uefi-x64]\nisos:\n  - name: ipxe\n    path: %s\n    sha256: %q\n    persistence: 64MiB\n", ipxe, sha256File(t, ipxe))
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := newFetcher(t, filepath.Join(dir, "cache"))
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.FetchAll(ctx, mustSources(t, m, l)); err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(ctx, m, l, f, "")
	var pe *bootloader.PersistenceError
	if !errors.As(err, &pe) || pe.ID != "ipxe" || !strings.HasPrefix(err.Error(), path+":8:") {
		t.Fatalf("MakePlan: %v", err)
	}
}

// TestPersistenceAddedOnRecreateAuto: on a size: auto image, a new
// persistent entry is refused in place (the plan says why) and added by
// --recreate after the kept partition, the image grown by its size, the
// kept one's bytes unchanged.
func TestPersistenceAddedOnRecreateAuto(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "sgdisk", "e2fsck", "debugfs")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	before := build(t, persistKit(t, dir, []string{a, b}, []string{"64MiB", ""}), cache, img)
	pt := checkKit(t, img).Persistence[0]
	work := userWork(t, img, pt)
	m := persistKit(t, dir, []string{a, b}, []string{"64MiB", "80MiB"})
	p := planAgainst(t, m, cache, img)
	if !strings.Contains(strings.Join(p.Diff.Recreate, "; "), "beta gets persistence, a new partition of 80 MiB, which only --recreate adds") {
		t.Fatalf("in place: %v", p.Diff.Recreate)
	}
	p = planAgainst(t, m, cache, img, PlanOptions{Recreate: true})
	if _, err := Build(context.Background(), p, BuildOptions{Recreate: true}); err != nil {
		t.Fatal(err)
	}
	tg := checkKit(t, img)
	if p.Size != before.Size+80<<20 || len(tg.Persistence) != 2 || !bytes.Equal(persistBytes(t, img, pt), work) {
		t.Fatalf("size %d (was %d), persistence %+v, alpha's bytes kept %v", p.Size, before.Size, tg.Persistence, bytes.Equal(persistBytes(t, img, pt), work))
	}
	if beta := tg.Persistence[1]; beta.Entry != "beta" || beta.Offset != pt.Offset+pt.Size {
		t.Errorf("beta's partition %+v is not right after alpha's %+v", beta, pt)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v: %s", out)
	}
}

// TestPersistencePassesLoopbackCfgOver: an ISO with its own loopback.cfg
// and persistence boots with its family's own entry, which carries the
// persistence arguments (loopback.cfg cannot take them).
func TestPersistencePassesLoopbackCfgOver(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "mcopy")
	dir := t.TempDir()
	tree := filepath.Join(dir, "alpha-tree")
	for p, data := range map[string]string{
		"live/vmlinuz":             "kernel " + strings.Repeat("k", 300<<10),
		"live/initrd.img":          "initrd",
		"boot/grub/loopback.cfg":   "menuentry \"Live\" {\n  linux /live/vmlinuz boot=live findiso=${iso_path}\n  initrd /live/initrd.img\n}\n",
		"live/filesystem.squashfs": "squashfs",
	} {
		os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755)
		if err := os.WriteFile(filepath.Join(tree, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, "alpha.iso")
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "LIVE_A", "-R", "-J", "-o", iso, tree)
	for _, size := range []string{"", "64MiB"} {
		text := fmt.Sprintf("version: 1\nlabel: testkit\nfirmware: [uefi-x64]\nisos:\n  - name: alpha\n    path: %s\n    sha256: %q\n", iso, sha256File(t, iso))
		if size != "" {
			text += "    persistence: " + size + "\n"
		}
		path := filepath.Join(dir, "multiboot.yaml")
		os.WriteFile(path, []byte(text), 0o644)
		m, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		p := planAgainst(t, m, filepath.Join(dir, "cache"), "")
		want := bootloader.LoopbackCfg
		if size != "" {
			want = bootloader.Live
		}
		if f := p.Entries[0].Boot.Family; f != want {
			t.Errorf("persistence %q: family %s, want %s", size, f, want)
		}
	}
}

// TestPersistenceOnADevice: apply --device writes a kit with persistence
// to a stick holding old data (the metadata-only image, ext4 inode tables
// and journal given as zeros); the persistence partition on the stick is
// e2fsck-clean with its files; converging the stick, an ISO replaced,
// keeps it byte for byte; --recreate on it is refused unless named.
func TestPersistenceOnADevice(t *testing.T) {
	testenv.Tools(t, "xorriso", "e2fsck", "debugfs", "sgdisk")
	dev := loopDevice(t, 256<<20)
	testenv.Run(t, "dd", "if=/dev/urandom", "of="+dev, "bs=1M", "count=256", "status=none") // old data everywhere
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	apply := func(m *config.Manifest, opts ApplyOptions) error {
		k, err := Load(m.File, Options{})
		if err != nil {
			t.Fatal(err)
		}
		k.fetchOpts.CacheDir = filepath.Join(dir, "cache")
		opts.Devices, opts.Force, opts.Confirm = []string{dev}, true, func([]Stick) error { return nil }
		_, err = k.Apply(context.Background(), opts)
		return err
	}
	if err := apply(persistKit(t, dir, []string{a, b}, []string{"64MiB", ""}), ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	tg := checkKit(t, dev)
	pt := tg.Persistence[0]
	vol := filepath.Join(dir, "vol.img")
	extract(t, dev, vol, pt.Offset, pt.Size)
	if out, err := exec.Command("e2fsck", "-fn", vol).CombinedOutput(); err != nil {
		t.Fatalf("e2fsck -fn of the persistence partition on the stick: %v\n%s", err, out)
	}
	if out, _ := exec.Command("debugfs", "-R", "cat /persistence.conf", vol).Output(); string(out) != "/ union\n" {
		t.Fatalf("persistence.conf on the stick holds %q", out)
	}
	work := userWork(t, dev, pt)
	v2 := filepath.Join(dir, "v2")
	os.Mkdir(v2, 0o755)
	m2 := persistKit(t, v2, []string{liveISO(t, v2, "alpha", "a2"), b}, []string{"64MiB", ""})
	if err := apply(m2, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	checkKit(t, dev)
	if !bytes.Equal(persistBytes(t, dev, pt), work) {
		t.Fatal("converging the stick changed its persistence partition")
	}
	if err := apply(m2, ApplyOptions{Recreate: true}); !errors.Is(err, ErrPersistenceData) {
		t.Fatalf("--recreate on the stick: %v", err)
	}
	if !bytes.Equal(persistBytes(t, dev, pt), work) {
		t.Fatal("a refused --recreate changed the persistence partition")
	}
}

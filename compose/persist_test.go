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

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
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
}

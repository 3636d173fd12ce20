package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
)

// windowsKit writes a manifest with a Linux ISO and a Windows installer
// ISO (oscdimg's layout, a real install.wim) and returns it.
func windowsKit(t *testing.T, dir string) *config.Manifest {
	testenv.Tools(t, "xorriso", "genisoimage", "wimcapture")
	win := testenv.WindowsISO{Label: "WIN11", Install: "wim", BIOS: true, Editions: []string{"Windows 11 Pro"}}.Build(t, dir)
	linux := filepath.Join(dir, "linux.iso")
	tree := filepath.Join(dir, "linuxtree")
	for p, data := range map[string]string{"live/vmlinuz": "MZ kernel", "live/initrd.img": "initrd"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", "LIVE", "-o", linux, tree)
	return kitWith(t, dir, "firmware: [bios, uefi-x64]", linux, win)
}

// The menu shows Windows entries after the others, so compose test's boot
// cases count them there, whatever the manifest's order.
func TestBootCasesWindowsLast(t *testing.T) {
	dir := t.TempDir()
	m := windowsKit(t, dir)
	m = kitWith(t, dir, "firmware: [bios, uefi-x64]", filepath.Join(dir, "win11.iso"), filepath.Join(dir, "linux.iso"))
	p := build(t, m, filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img"))
	cases, err := p.BootCases(m, BootMachines(m))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cases {
		got = append(got, fmt.Sprintf("%s:%s:%d:%s", c.Machine.Firmware, c.Entry, c.Index, c.Proof))
	}
	want := []string{"bios:linux:0:", "bios:win11:1:payload output", "uefi-x64:linux:0:", "uefi-x64:win11:1:payload output"}
	if !slices.Equal(got, want) {
		t.Errorf("boot cases %q, want %q", got, want)
	}
}

// A Windows entry gets a FAT32 basic-data partition of its own holding the
// ISO's files (not the ISO), in the plan and on the image (sgdisk -v,
// fsck.fat -n, files byte for byte), and a menu entry that finds it by its
// marker and starts the ISO's own loaders.
func TestPlanBuildsWindowsPartition(t *testing.T) {
	testenv.Tools(t, "sgdisk", "fsck.fat", "mcopy")
	dir := t.TempDir()
	m := windowsKit(t, dir)
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)
	if len(p.Windows) != 1 {
		t.Fatalf("plan has %d Windows partitions, want 1", len(p.Windows))
	}
	w := p.Windows[0]
	if w.Entry != "win11" || w.Label != "WIN11" || w.Partition == 0 || w.Size == 0 || w.Split != nil ||
		len(w.Editions) != 1 || w.Editions[0].Name != "Windows 11 Pro" {
		t.Fatalf("Windows plan %+v", w)
	}
	var part disk.Partition
	for _, pp := range p.lay.Partitions {
		if pp.Index == w.Partition {
			part = pp
		}
		for _, f := range pp.Files {
			if strings.HasSuffix(f.Path, "win11.iso") {
				t.Errorf("the Windows ISO itself is on partition %d", pp.Index)
			}
		}
	}
	if part.Type != disk.TypeBasicData || part.Label != "WIN11" {
		t.Fatalf("partition %d is %+v", w.Partition, part)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v:\n%s", out)
	}
	if out, err := exec.Command("fsck.fat", "-n", partitionFile(t, img, part)).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	at := img + "@@" + strconv.FormatInt(part.Offset, 10)
	out := t.TempDir()
	for _, f := range []string{"bootmgr", "efi/boot/bootx64.efi", "sources/boot.wim", "sources/install.wim"} {
		dst := filepath.Join(out, filepath.Base(f))
		testenv.Run(t, "mcopy", "-n", "-i", at, "::/"+f, dst)
		if !sameFile(t, dst, filepath.Join(dir, "wintree", f)) {
			t.Errorf("%s differs from the ISO's", f)
		}
	}
	testenv.Run(t, "mcopy", "-n", "-i", at, "::"+w.Marker, filepath.Join(out, "marker"))
	cfg := string(espFile(t, img, p, "/boot/grub/grub.cfg"))
	for _, want := range []string{`search --no-floppy --set=root --file '` + w.Marker + `'`, `chainloader '/efi/boot/bootx64.efi'`, `ntldr '/bootmgr'`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("grub.cfg lacks %s:\n%s", want, cfg)
		}
	}
}

// boot: efi would chainload bootx64.efi from a loop device, where Windows
// Boot Manager cannot find its media: refused at the entry's position.
func TestPlanRefusesWindowsOverride(t *testing.T) {
	dir := t.TempDir()
	m := windowsKit(t, dir)
	yaml, err := os.ReadFile(filepath.Join(dir, "multiboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(yaml), "  - name: win11\n", "  - name: win11\n    boot: efi\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "multiboot.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, err = config.Load(filepath.Join(dir, "multiboot.yaml")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	f := newFetcher(t, filepath.Join(dir, "cache"))
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
	if err == nil || !strings.Contains(err.Error(), "multiboot.yaml:10:5: win11: is a Windows installer ISO: boot: efi would start it from a loop device") {
		t.Fatalf("boot: efi on a Windows ISO: want it refused, got %v", err)
	}
}

// withEntryLine adds line to the entry name in dir's manifest and loads it.
func withEntryLine(t *testing.T, dir, name, line string) *config.Manifest {
	path := filepath.Join(dir, "multiboot.yaml")
	yaml, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(yaml), "  - name: "+name+"\n", "  - name: "+name+"\n    "+line+"\n", 1)
	if src == string(yaml) {
		t.Fatalf("no entry %s", name)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func planOf(t *testing.T, m *config.Manifest, dir string) (*Plan, error) {
	ctx := context.Background()
	f := newFetcher(t, filepath.Join(dir, "cache"))
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	return MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
}

const answer = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\n</unattend>\n"

// unattend: puts the answer file at the Windows partition's root as
// autounattend.xml, byte for byte.
func TestWindowsUnattend(t *testing.T) {
	testenv.Tools(t, "mcopy")
	dir := t.TempDir()
	windowsKit(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "answer.xml"), []byte(answer), 0o644); err != nil {
		t.Fatal(err)
	}
	m := withEntryLine(t, dir, "win11", "unattend: ./answer.xml")
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)
	if p.Windows[0].Unattend != "./answer.xml" {
		t.Fatalf("plan: %+v", p.Windows[0])
	}
	part := partitionByIndex(t, p, p.Windows[0].Partition)
	out := filepath.Join(t.TempDir(), "a.xml")
	testenv.Run(t, "mcopy", "-n", "-i", img+"@@"+strconv.FormatInt(part.Offset, 10), "::/autounattend.xml", out)
	if !sameFile(t, out, filepath.Join(dir, "answer.xml")) {
		t.Error("autounattend.xml on the partition is not the answer file")
	}
}

func partitionByIndex(t *testing.T, p *Plan, i int) disk.Partition {
	for _, pp := range p.lay.Partitions {
		if pp.Index == i {
			return pp
		}
	}
	t.Fatalf("no partition %d", i)
	return disk.Partition{}
}

// A malformed answer file fails the plan at its own line and column; an
// answer file on a Linux entry is refused at the entry.
func TestWindowsUnattendRefused(t *testing.T) {
	dir := t.TempDir()
	windowsKit(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "bad.xml"), []byte("<unattend>\n  <settings>\n</unattend>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yaml, err := os.ReadFile(filepath.Join(dir, "multiboot.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := withEntryLine(t, dir, "win11", "unattend: ./bad.xml")
	_, err = planOf(t, m, dir)
	if err == nil || !strings.Contains(err.Error(), "win11: unattend: ./bad.xml:3:12: not well-formed XML") {
		t.Fatalf("want the malformed answer file refused at its line, got %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "multiboot.yaml"), yaml, 0o644); err != nil {
		t.Fatal(err)
	}
	m = withEntryLine(t, dir, "linux", "unattend: ./bad.xml")
	if _, err = planOf(t, m, dir); err == nil || !strings.Contains(err.Error(), "linux: unattend: is for Windows installer entries") {
		t.Fatalf("want unattend on a Linux entry refused, got %v", err)
	}
}

// Two Windows entries with answer files: the plan warns, since Setup reads
// whichever it finds first.
func TestWindowsUnattendTwice(t *testing.T) {
	dir := t.TempDir()
	windowsKit(t, dir)
	win10 := testenv.WindowsISO{Label: "WIN10", Install: "wim", Editions: []string{"Windows 10 Pro"}}.Build(t, t.TempDir())
	if err := os.WriteFile(filepath.Join(dir, "answer.xml"), []byte(answer), 0o644); err != nil {
		t.Fatal(err)
	}
	kitWith(t, dir, "firmware: [uefi-x64]", filepath.Join(dir, "win11.iso"), win10)
	withEntryLine(t, dir, "win11", "unattend: ./answer.xml")
	m := withEntryLine(t, dir, "win10", "unattend: ./answer.xml")
	p, err := planOf(t, m, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "a second Windows entry with an answer file") }) {
		t.Errorf("no warning for two answer files: %q", p.Warnings)
	}
}

// A replaced Windows ISO is refused in place with the reason; --recreate
// rewrites the kit and keeps the persistence partition at its offset with
// its bytes; the kit then converges with no changes.
func TestWindowsReplacedKeepsPersistence(t *testing.T) {
	testenv.Tools(t, "xorriso", "genisoimage", "wimcapture", "sgdisk", "e2fsck", "debugfs")
	dir := t.TempDir()
	alpha := liveISO(t, dir, "alpha", "a")
	w1 := testenv.WindowsISO{Label: "WIN11", Install: "wim", BIOS: true, Editions: []string{"Windows 11 Pro"}}.Build(t, t.TempDir())
	w2 := testenv.WindowsISO{Label: "WIN11", Install: "wim", Editions: []string{"Windows 11 Home"}}.Build(t, t.TempDir())
	manifest := func(win string) *config.Manifest {
		text := fmt.Sprintf("version: 1\nlabel: testkit\nfirmware: [bios, uefi-x64]\nsize: 300MiB\nmenu:\n  console: serial\nisos:\n"+
			"  - name: alpha\n    path: %s\n    sha256: %q\n    boot: live\n    persistence: 64MiB\n  - name: win11\n    path: %s\n    sha256: %q\n",
			alpha, sha256File(t, alpha), win, sha256File(t, win))
		path := filepath.Join(dir, "multiboot.yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	build(t, manifest(w1), cache, img)
	pt := checkKit(t, img).Persistence[0]
	work := userWork(t, img, pt)
	m := manifest(w2)
	p := planAgainst(t, m, cache, img)
	if why := strings.Join(p.Diff.Recreate, "; "); !strings.Contains(why, "Windows entry win11 changed, and its partition is written only in full") {
		t.Fatalf("in place: recreate %q", why)
	}
	p = planAgainst(t, m, cache, img, PlanOptions{Recreate: true})
	if _, err := Build(context.Background(), p, BuildOptions{Recreate: true}); err != nil {
		t.Fatal(err)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v: %s", out)
	}
	tg := checkKit(t, img)
	if len(tg.Persistence) != 1 || tg.Persistence[0].Offset != pt.Offset || !bytes.Equal(persistBytes(t, img, pt), work) {
		t.Fatalf("after --recreate: %+v, was %+v", tg.Persistence, pt)
	}
	if p := planAgainst(t, m, cache, img); !p.Diff.NoChanges || len(p.Diff.Recreate) > 0 {
		t.Errorf("after --recreate: diff %+v", p.Diff)
	}
	if p.Windows[0].Editions[0].Name != "Windows 11 Home" {
		t.Errorf("editions %+v", p.Windows[0].Editions)
	}
}

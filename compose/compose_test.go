package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/usbkit/compose/compose/pin"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/fetch"
)

// liveISO builds a small ISO with a Debian-live layout; marker varies its
// content so two ISOs differ.
func liveISO(t testing.TB, dir, name, marker string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-tree")
	for p, data := range map[string]string{
		"live/vmlinuz":             "kernel " + marker + strings.Repeat("k", 300<<10),
		"live/initrd.img":          "initrd " + marker,
		"live/filesystem.squashfs": "squashfs " + marker,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tree, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	iso := filepath.Join(dir, name+".iso")
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "LIVE_"+strings.ToUpper(marker), "-R", "-J",
		"--modification-date=2020010100000000", "-o", iso, tree)
	return iso
}

func sha256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return sha256Of(t, f)
}

// sha256Of hashes r streaming: a whole-file buffer (ReadAll grows it by
// doubling) costs a -race binary more than the hash.
func sha256Of(t testing.TB, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, r, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// kit writes a manifest naming the given local ISOs and loads it.
func kit(t testing.TB, dir string, firmware string, isos ...string) *config.Manifest {
	return kitWith(t, dir, "firmware: ["+firmware+"]", isos...)
}

// kitWith is kit with top-level manifest lines of the caller's choosing.
func kitWith(t testing.TB, dir string, top string, isos ...string) *config.Manifest {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nlabel: testkit\n%s\nmenu:\n  console: serial\nisos:\n", top)
	for _, iso := range isos {
		name := strings.TrimSuffix(filepath.Base(iso), ".iso")
		fmt.Fprintf(&b, "  - name: %s\n    path: %s\n    sha256: %q\n", name, iso, sha256File(t, iso))
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

func newFetcher(t testing.TB, cache string) *fetch.Fetcher {
	t.Helper()
	f, err := fetch.New(fetch.Options{CacheDir: cache})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// build locks, plans and applies m into img.
func build(t *testing.T, m *config.Manifest, cache, img string) *Plan {
	t.Helper()
	ctx := context.Background()
	f := newFetcher(t, cache)
	l, err := pin.ResolveLock(ctx, m, f)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(ctx, m, l, f, img)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Ready {
		t.Fatalf("plan not ready after fetching: downloads %v", p.Downloads)
	}
	if _, err := Build(ctx, p, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyBuildsCheckedImage(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "sgdisk", "mcopy")
	dir := t.TempDir()
	a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
	m := kit(t, dir, "bios, uefi-x64", a, b)
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)

	if len(p.Entries) != 2 || p.Entries[0].Boot == nil || p.Entries[0].Boot.Family != "live" {
		t.Fatalf("entries: %+v", p.Entries)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v: %s", out)
	}
	esp := partitionOf(t, p, "fat32")
	espImg := filepath.Join(dir, "esp.img")
	extract(t, img, espImg, esp.Offset, esp.Size)
	testenv.Run(t, "fsck.fat", "-n", espImg)
	for _, iso := range []string{a, b} {
		got := filepath.Join(dir, "back.iso")
		os.Remove(got)
		testenv.Run(t, "mcopy", "-i", espImg, "::/isos/"+filepath.Base(iso), got)
		if sha256File(t, got) != sha256File(t, iso) {
			t.Fatalf("%s read back by mtools differs", iso)
		}
	}
	cfg := filepath.Join(dir, "grub.cfg")
	testenv.Run(t, "mcopy", "-i", espImg, "::/boot/grub/grub.cfg", cfg)
	text, _ := os.ReadFile(cfg)
	for _, want := range []string{"findiso=/isos/alpha.iso", "findiso=/isos/beta.iso", "--id 'alpha'"} {
		if !bytes.Contains(text, []byte(want)) {
			t.Errorf("grub.cfg lacks %q:\n%s", want, text)
		}
	}
	mbr := make([]byte, 512)
	fh, _ := os.Open(img)
	fh.ReadAt(mbr, 0)
	fh.Close()
	if mbr[0x1FE] != 0x55 || mbr[0x1FF] != 0xAA || mbr[0x1C2] != 0xEE || bytes.Equal(mbr[:440], make([]byte, 440)) {
		t.Fatalf("LBA 0 lacks GRUB boot code or the protective MBR")
	}
}

func partitionOf(t *testing.T, p *Plan, fs string) PartitionPlan {
	t.Helper()
	for _, pt := range p.Partitions {
		if pt.FS == fs {
			return pt
		}
	}
	t.Fatalf("no %s partition in %+v", fs, p.Partitions)
	return PartitionPlan{}
}

// extract copies size bytes at off of img into out, sparse: dd copies
// them (a copy in this -race binary costs a second per 128 MiB in the
// race detector's bookkeeping of each read and write) and seeks over
// blocks of zeros instead of writing them.
func extract(t *testing.T, img, out string, off, size int64) {
	t.Helper()
	testenv.Run(t, "dd", "if="+img, "of="+out, "bs=1M", "iflag=skip_bytes,count_bytes", "conv=sparse",
		"status=none", fmt.Sprintf("skip=%d", off), fmt.Sprintf("count=%d", size))
	if fi, err := os.Stat(out); err != nil || fi.Size() != size {
		t.Fatalf("extracting %d bytes at %d of %s: %v", size, off, img, err)
	}
}

// TestApplyIsReproducible builds the same kit twice, in different
// directories and caches, and compares bytes; then changes one ISO.
func TestApplyIsReproducible(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	a := liveISO(t, dir, "alpha", "a")
	one, two := filepath.Join(dir, "one.img"), filepath.Join(dir, "two.img")
	build(t, kit(t, dir, "bios, uefi-x64", a), filepath.Join(dir, "c1"), one)
	build(t, kit(t, dir, "bios, uefi-x64", a), filepath.Join(dir, "c2"), two)
	if sha256File(t, one) != sha256File(t, two) {
		t.Fatal("two builds of the same kit differ")
	}
	os.Remove(a)
	a = liveISO(t, dir, "alpha", "z")
	three := filepath.Join(dir, "three.img")
	build(t, kit(t, dir, "bios, uefi-x64", a), filepath.Join(dir, "c3"), three)
	if sha256File(t, one) == sha256File(t, three) {
		t.Fatal("changing an ISO did not change the image")
	}
}

// TestPlanWritesNothing: a plan over an empty cache lists the downloads,
// is not ready, and Apply refuses it without creating the image.
func TestPlanWritesNothing(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	a := liveISO(t, dir, "alpha", "a")
	m := kit(t, dir, "uefi-x64", a)
	ctx := context.Background()
	l, err := pin.ResolveLock(ctx, m, newFetcher(t, filepath.Join(dir, "c1")))
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "kit.img")
	p, err := MakePlan(ctx, m, l, newFetcher(t, filepath.Join(dir, "empty")), img)
	if err != nil {
		t.Fatal(err)
	}
	if p.Ready || len(p.Downloads) != 1 || p.Downloads[0].Name != "alpha" || p.Entries[0].Boot != nil {
		t.Fatalf("plan over an empty cache: %+v", p)
	}
	if _, err := Build(ctx, p, BuildOptions{}); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Apply of an unready plan: %v", err)
	}
	if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("plan or refused apply created %s", img)
	}
}

// TestApplyCancelledLeavesNothing: a cancelled apply leaves no image and
// keeps an existing one as it was.
func TestApplyCancelledLeavesNothing(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	m := kit(t, dir, "uefi-x64", liveISO(t, dir, "alpha", "a"))
	f := newFetcher(t, filepath.Join(dir, "c"))
	l, err := pin.ResolveLock(context.Background(), m, f)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "kit.img")
	old := strings.Repeat("old image ", 51) + "\x55\xaa" // a disk image's boot signature
	os.WriteFile(img, []byte(old), 0o644)
	p, err := MakePlan(context.Background(), m, l, f, img)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Build(ctx, p, BuildOptions{Recreate: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled apply: %v", err)
	}
	if got, _ := os.ReadFile(img); string(got) != old {
		t.Fatal("cancelled apply changed the existing image")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*kit.img*")); len(left) != 1 {
		t.Fatalf("left behind: %v", left)
	}
}

// TestOfflineExampleBuilds builds examples/offline/debian-tools.yaml, the
// README's main job, from the ISOs Debian's memtest86+ and ipxe packages
// install (CI installs both).
func TestOfflineExampleBuilds(t *testing.T) {
	testenv.Tools(t, "fsck.fat")
	for _, iso := range []string{"/usr/lib/memtest86+/memtest86+x64.iso", "/usr/lib/ipxe/ipxe.iso"} {
		if _, err := os.Stat(iso); err != nil {
			testenv.Skip(t, "%s missing (Debian packages memtest86+ and ipxe)", iso)
		}
	}
	m, err := config.Load("../examples/offline/debian-tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p := build(t, m, filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img"))
	for _, e := range p.Entries {
		if e.Boot == nil || e.Boot.Family != "efi" {
			t.Errorf("%s: want family efi, got %+v", e.Name, e.Boot)
		}
	}
	esp := partitionOf(t, p, "fat32")
	extract(t, filepath.Join(dir, "kit.img"), filepath.Join(dir, "esp.img"), esp.Offset, esp.Size)
	testenv.Run(t, "fsck.fat", "-n", filepath.Join(dir, "esp.img"))
}

// TestApplyDataPartition: with storage: data every ISO lands on ext4, which
// e2fsck accepts, debugfs reads back, and GRUB finds by the stick's marker.
func TestApplyDataPartition(t *testing.T) {
	testenv.Tools(t, "xorriso", "e2fsck", "debugfs", "fsck.fat", "mcopy")
	dir := t.TempDir()
	a := liveISO(t, dir, "alpha", "a")
	m := kitWith(t, dir, "firmware: [bios, uefi-x64]\nstorage: data", a)
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)
	data := partitionOf(t, p, "ext4")
	dataImg := filepath.Join(dir, "data.img")
	extract(t, img, dataImg, data.Offset, data.Size)
	testenv.Run(t, "e2fsck", "-fn", dataImg)
	back := filepath.Join(dir, "back.iso")
	// On ext4 an ISO's name carries its digest's prefix (Plan.nameDataISOs).
	onExt4 := "/isos/alpha-" + sha256File(t, a)[:8] + ".iso"
	if p.Entries[0].ISOPath != onExt4 {
		t.Fatalf("ISO path %s, want %s", p.Entries[0].ISOPath, onExt4)
	}
	testenv.Run(t, "debugfs", "-R", "dump "+onExt4+" "+back, dataImg)
	if sha256File(t, back) != sha256File(t, a) {
		t.Fatal("ISO read back from ext4 by debugfs differs")
	}
	var marker string
	for _, f := range data.Files {
		if strings.HasPrefix(f.Path, "/.compose/") {
			marker = f.Path
		}
	}
	if marker == "" {
		t.Fatalf("no marker on the data partition: %+v", data.Files)
	}
	esp := partitionOf(t, p, "fat32")
	espImg := filepath.Join(dir, "esp.img")
	extract(t, img, espImg, esp.Offset, esp.Size)
	cfg := filepath.Join(dir, "grub.cfg")
	testenv.Run(t, "mcopy", "-i", espImg, "::/boot/grub/grub.cfg", cfg)
	text, _ := os.ReadFile(cfg)
	if !strings.Contains(string(text), "search --no-floppy --set=root --file '"+marker+"'") {
		t.Fatalf("grub.cfg does not search the data partition's marker %s:\n%s", marker, text)
	}
	if !strings.Contains(string(text), onExt4) {
		t.Fatalf("grub.cfg does not name %s:\n%s", onExt4, text)
	}
	for _, f := range esp.Files {
		if strings.HasPrefix(f.Path, "/isos/") {
			t.Fatalf("%s on the ESP with storage: data", f.Path)
		}
	}
}

// TestPlanWarnsHiddenEntry: an x86_64 payload on an arm64-only kit gets no
// menu entry anywhere, and the plan says so; on a BIOS-only kit memtest86+
// has one (its BIOS image, through linux16).
func TestPlanWarnsHiddenEntry(t *testing.T) {
	const memtest = "/usr/lib/memtest86+/memtest86+x64.iso"
	if _, err := os.Stat(memtest); err != nil {
		testenv.Skip(t, "%s missing (Debian package memtest86+)", memtest)
	}
	dir := t.TempDir()
	iso := filepath.Join(dir, "memtest.iso")
	data, err := os.ReadFile(memtest)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(iso, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for fw, want := range map[string]string{"[uefi-arm64]": "memtest: no menu entry on any firmware target (uefi-arm64)", "[bios]": ""} {
		m := kitWith(t, dir, "firmware: "+fw, iso)
		ctx := context.Background()
		f := newFetcher(t, filepath.Join(dir, "cache"))
		l, err := pin.ResolveLock(ctx, m, f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := MakePlan(ctx, m, l, f, "")
		if err != nil {
			t.Fatal(err)
		}
		if want == "" && len(p.Warnings) != 0 || want != "" && (len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], want)) {
			t.Fatalf("%s: warnings: %q, want %q", fw, p.Warnings, want)
		}
	}
}

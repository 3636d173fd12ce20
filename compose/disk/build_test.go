package disk

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/ext4edit"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// espSpec is a spec with files on the ESP; an ext4 partition, if any,
// gets compose's journal, as compose's builds do.
func espSpec(files ...File) Spec {
	return Spec{Seed: []byte("test kit"), ESP: ESP{Label: "LABKIT", Files: files}, Journal: true}
}

// TestBuildESPNames covers directories under root, nesting, long names, dot
// names, names FAT must alias, empty files and the raw areas.
func TestBuildESPNames(t *testing.T) {
	long := strings.Repeat("a-very-long-name-", 12) + ".iso" // 208 characters
	spec := espSpec(
		File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: pattern(70000, 1)},
		File{Path: "/EFI/BOOT/grubx64.efi", Data: pattern(5000, 2)},
		File{Path: "/EFI/debian/grub.cfg", Data: []byte("search --file /boot/grub/m\n")},
		File{Path: "/boot/grub/grub.cfg", Data: []byte("menuentry x {}\n")},
		File{Path: "/boot/grub/.marker-1234", Data: []byte("m")},
		File{Path: "/.disk/info", Data: []byte("kit")},
		File{Path: "/.hidden", Data: nil},
		File{Path: "/empty.txt", Data: []byte{}},
		File{Path: "/isos/" + long, Data: pattern(3<<20+17, 3)},
		File{Path: "/isos/debian-12.5.0-amd64-netinst.iso", Data: pattern(1<<20, 4)},
		File{Path: "/isos/debian-12.5.0-amd64-DVD-1.iso", Data: pattern(1<<20+1, 5)},
		File{Path: "/a/b/c/d/e/deep.bin", Data: pattern(4096, 6)},
		File{Path: "/UPPER.TXT", Data: []byte("8.3 as is")},
	)
	// long-name slot boundaries, the 255-character limit, an 8.3 name at its
	// limits, and enough aliases of one stem for two-digit ~N tails (the
	// directory also grows past one 512-byte cluster)
	for _, n := range []string{strings.Repeat("b", 13), strings.Repeat("c", 26), strings.Repeat("d", 254), "ABCDEFGH.ISO", "abcdefghi.iso"} {
		spec.ESP.Files = append(spec.ESP.Files, File{Path: "/" + n, Data: []byte(n)})
	}
	for i := range 12 {
		n := fmt.Sprintf("/names/debian-live-%d.iso", i)
		spec.ESP.Files = append(spec.ESP.Files, File{Path: n, Data: []byte(n)})
	}
	spec.BIOSBoot = pattern(30000, 7)
	spec.BootCode = pattern(440, 8)
	img, r := build(t, spec)
	checkImage(t, img, r.Layout)
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw[:440], spec.BootCode) || raw[510] != 0x55 || raw[511] != 0xaa || raw[450] != 0xee {
		t.Fatal("boot code not at LBA 0 or protective MBR damaged")
	}
	bb := r.Layout.Partitions[0]
	if bb.Type != TypeBIOSBoot || bb.Size != mib || !bytes.Equal(raw[bb.Offset:bb.Offset+30000], spec.BIOSBoot) {
		t.Fatalf("BIOS boot partition wrong: %+v", bb)
	}
}

// TestBuggyFATSizes builds images whose natural ESP size go-diskfs v1.9.4
// gets wrong (a FAT two entries short) and checks fsck.fat passes anyway.
func TestBuggyFATSizes(t *testing.T) {
	for _, espSize := range []int64{64 * mib, 4 * gib} {
		if _, err := fatGeometry(espSize); err == nil {
			t.Fatalf("expected go-diskfs's FAT for a %d-byte volume to be short", espSize)
		}
		t.Run(fmt.Sprint(espSize/mib, "MiB"), func(t *testing.T) {
			spec := espSpec(File{Path: "/isos/x.iso", Data: pattern(1<<20, 9)})
			spec.Size = espSize + 2*mib // leaves exactly espSize for the ESP
			img, r := build(t, spec)
			if esp := r.Layout.Partition(FSFAT32); esp.Size == espSize || len(r.Layout.Notes) == 0 {
				t.Fatalf("ESP kept the bad size %d (notes %v)", esp.Size, r.Layout.Notes)
			}
			checkImage(t, img, r.Layout)
		})
	}
}

func TestFATGeometryKnownBad(t *testing.T) {
	// 64 MiB, 4 GiB, 16 GiB and 32 GiB volumes hit go-diskfs bug 1 (doc.go).
	for _, s := range []int64{64 * mib, 4 * gib, 16 * gib, 32 * gib} {
		g, err := fatGeometry(s)
		if err == nil {
			t.Errorf("%d: geometry accepted, FAT %d entries for %d clusters", s, g.FATEntries, g.Clusters)
		}
	}
	for s := 40 * mib; s < 300*mib; s += 7 * mib {
		if g, err := fatGeometry(s); err == nil && g.FATEntries < g.Clusters+2 {
			t.Errorf("%d: accepted a short FAT", s)
		}
	}
}

// TestBigISOOnExt4 places an ISO over 4 GiB (sparse, with data at its
// start, across the 4 GiB mark and at its end) on the ext4 partition.
func TestBigISOOnExt4(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "writes a 4 GiB sparse file; skipped with -short")
	}
	big, size, _ := bigISO(t)
	spec := espSpec(File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: pattern(1000, 1)})
	spec.ISOs = []File{{Path: "/isos/big.iso", Source: big, Size: size}, {Path: "/isos/small.iso", Data: pattern(2<<20, 2)}}
	spec.Data.Label = "KITDATA"
	spec.Verify = true
	img, r := build(t, spec)
	data := r.Layout.Partition(FSExt4)
	if data == nil || len(data.Files) != 1 || data.Files[0].Path != "/isos/big.iso" {
		t.Fatalf("big ISO not routed to ext4: %+v", r.Layout.Partitions)
	}
	if esp := r.Layout.Partition(FSFAT32); len(esp.Files) != 2 {
		t.Fatalf("small ISO not on the ESP: %+v", esp.Files)
	}
	checkImage(t, img, r.Layout)
}

func TestEmptyKit(t *testing.T) {
	img, r := build(t, espSpec())
	checkImage(t, img, r.Layout)
	img, r = build(t, espSpec(File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: []byte("x")}))
	checkImage(t, img, r.Layout)
}

func TestAllOnData(t *testing.T) {
	spec := espSpec(File{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")})
	spec.ISOs = []File{{Path: "/isos/a.iso", Data: pattern(1<<20, 1)}, {Path: "/isos/b.iso", Data: pattern(5000, 2)}}
	spec.Placement = PlaceAllOnData
	img, r := build(t, spec)
	if d := r.Layout.Partition(FSExt4); d == nil || len(d.Files) != 2 {
		t.Fatalf("ISOs not on ext4: %+v", r.Layout.Partitions)
	}
	checkImage(t, img, r.Layout)
	if err := Verify(context.Background(), img, r.Layout, VerifyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestJournal: Spec.Journal gives the data partition ext4edit's journal,
// so that ext4edit can change it in place; without it the partition is as
// older composes made it, which ext4edit refuses.
func TestJournal(t *testing.T) {
	for _, journal := range []bool{true, false} {
		spec := espSpec(File{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")})
		spec.Journal = journal
		spec.Data.Files = []File{{Path: "/isos/a.iso", Data: pattern(1<<20, 1)}}
		img, r := build(t, spec)
		checkImage(t, img, r.Layout)
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ext4edit.Open(f, r.Layout.Partition(FSExt4).Offset)
		f.Close()
		if (journal && err != nil) || (!journal && !errors.Is(err, ext4edit.ErrNoJournal)) {
			t.Errorf("Journal %t: ext4edit.Open: %v", journal, err)
		}
	}
}

// TestReproducible builds the same spec twice, seconds apart (go-diskfs
// stamps time.Now()), and expects identical bytes; one changed ISO byte
// must change the image.
func TestReproducible(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.iso")
	if err := os.WriteFile(src, pattern(2<<20, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := func() Spec {
		s := espSpec(File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: pattern(1000, 1)}, File{Path: "/.disk/info", Data: []byte("k")})
		s.BIOSBoot = []byte("core")
		s.ISOs = []File{{Path: "/isos/a.iso", Source: src, Size: 2 << 20}}
		s.Data.Files = []File{{Path: "/isos/d.iso", Data: pattern(1<<20, 2)}, {Path: "/x/empty", Data: nil}}
		return s
	}
	a, _ := build(t, spec())
	sleepPastSecond()
	b, _ := build(t, spec())
	if da, db := fileDigest(t, a), fileDigest(t, b); da != db {
		t.Fatalf("two builds differ: %s %s", da, db)
	}
	changed := pattern(2<<20, 1)
	changed[12345]++
	if err := os.WriteFile(src, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := build(t, spec())
	if fileDigest(t, a) == fileDigest(t, c) {
		t.Fatal("changing an ISO byte did not change the image")
	}
}

func TestCancelLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "kit.img")
	if err := os.WriteFile(out, []byte("old image"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	spec := espSpec(File{Path: "/isos/a.iso", Data: pattern(64<<20, 1)}, File{Path: "/isos/b.iso", Data: pattern(8<<20, 2)})
	events := 0
	_, err := Build(ctx, out, spec, func(e Event) {
		events++
		cancel() // Ctrl-C after the first progress event
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if events == 0 {
		t.Fatal("no progress event before cancellation")
	}
	assertOnly(t, dir, out, "old image")
}

func TestSourceChangedFailsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "a.iso")
	os.WriteFile(src, []byte("12345"), 0o644)
	out := filepath.Join(dir, "kit.img")
	spec := espSpec()
	spec.ISOs = []File{{Path: "/isos/a.iso", Source: src, Size: 4}}
	if _, err := Build(context.Background(), out, spec, nil); err == nil || !strings.Contains(err.Error(), "declared 4") {
		t.Fatalf("want size mismatch error, got %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("an image was left behind")
	}
}

func TestTooSmallFailsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "kit.img")
	spec := espSpec(File{Path: "/isos/a.iso", Data: make([]byte, 100<<20)})
	spec.Size = 64 * mib
	_, err := Build(context.Background(), out, spec, nil)
	if !errors.Is(err, ErrTooSmall) || !strings.Contains(err.Error(), "67108864 bytes") || !strings.Contains(err.Error(), "more") {
		t.Fatalf("want ErrTooSmall with numbers, got %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("files left behind: %v", entries)
	}
}

// TestVerifyCatchesCorruption flips one byte of a placed file.
func TestVerifyCatchesCorruption(t *testing.T) {
	spec := espSpec(File{Path: "/isos/a.iso", Data: pattern(1<<20, 1)})
	img, r := build(t, spec)
	if err := Verify(context.Background(), img, r.Layout, VerifyOptions{Digests: r.Digests()}); err != nil {
		t.Fatalf("clean image: %v", err)
	}
	f, _ := os.OpenFile(img, os.O_RDWR, 0)
	at := r.Files[0].Extents[0].Offset + 777
	b := []byte{0}
	f.ReadAt(b, at)
	b[0]++
	f.WriteAt(b, at)
	f.Close()
	if err := Verify(context.Background(), img, r.Layout, VerifyOptions{}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("want ErrMismatch, got %v", err)
	}
	if err := Verify(context.Background(), img, r.Layout, VerifyOptions{SkipFiles: true}); err != nil {
		t.Fatalf("table-only check: %v", err)
	}
}

func assertOnly(t *testing.T, dir, path, content string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("want only %s in %s, found %d entries", path, dir, len(entries))
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Fatalf("%s was modified", path)
	}
}

// TestDeclaredDigestKernelCopy places a sparse source with a declared
// digest (copied in the kernel, holes skipped), and shows that a wrong
// declared digest makes Build's verification fail.
func TestDeclaredDigestKernelCopy(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s.iso")
	f, _ := os.Create(src)
	size := int64(70<<20 + 123)
	for _, at := range []int64{0, 9<<20 + 1, 64<<20 - 10, size - 5000} {
		f.WriteAt(pattern(5000, byte(at>>20)), at)
	}
	f.Truncate(size)
	f.Close()
	sum := fileDigest(t, src)
	spec := espSpec()
	spec.ISOs = []File{{Path: "/isos/s.iso", Source: src, Size: size, SHA256: sum}}
	spec.Verify = true
	img, r := build(t, spec)
	if r.Files[0].SHA256 != sum {
		t.Fatalf("recorded digest %s", r.Files[0].SHA256)
	}
	checkImage(t, img, r.Layout)

	// A wrong declared digest is caught while placing (the source is
	// hashed beside the kernel copy), verification on or off.
	spec.ISOs[0].SHA256 = strings.Repeat("0", 64)
	for _, verify := range []bool{true, false} {
		spec.Verify = verify
		out := filepath.Join(t.TempDir(), "bad.img")
		_, err := Build(context.Background(), out, spec, nil)
		var se *SourceError
		if !errors.Is(err, ErrSourceMismatch) || !errors.As(err, &se) || se.Source != src || se.Got != sum {
			t.Fatalf("verify=%t: want a *SourceError naming %s, got %v", verify, src, err)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Fatal("unverified image left behind")
		}
	}
}

// TestPinnedSHA512 checks a sha512-pinned source is hashed with sha512
// while placed: the right pin builds, a wrong one fails without Verify.
func TestPinnedSHA512(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s.iso")
	data := pattern(3<<20, 7)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha512.Sum512(data)
	spec := espSpec()
	spec.ISOs = []File{{Path: "/isos/s.iso", Source: src, Size: int64(len(data)), Algorithm: "sha512", Digest: hex.EncodeToString(sum[:])}}
	build(t, spec)
	spec.ISOs[0].Digest = strings.Repeat("ab", 64)
	if _, err := Build(context.Background(), filepath.Join(dir, "bad.img"), spec, nil); !errors.Is(err, ErrSourceMismatch) {
		t.Fatalf("want ErrSourceMismatch for a wrong sha512 pin, got %v", err)
	}
}

package bootloader

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// tinyPayload is what tinyFAT holds at EFI/BOOT/BOOTX64.EFI: three clusters' worth.
var tinyPayload = bytes.Repeat([]byte("MZ tiny EFI payload "), 75)

// tinyFAT builds the smallest FAT12 image that holds EFI/BOOT/BOOTX64.EFI: 512-byte
// sectors, one reserved, two FATs of one sector, 16 root entries, 8 one-sector clusters
// (12 sectors, 6 KiB; mkfs.fat makes nothing under 48 KiB). TestTinyFATIsFAT checks it
// with fsck.fat and mtools. It is small enough for committed fuzz inputs.
func tinyFAT() []byte {
	img := make([]byte, 12*512)
	copy(img, []byte{0xeb, 0x3c, 0x90})
	copy(img[3:], "MSWIN4.1")
	le16 := func(o, v int) { binary.LittleEndian.PutUint16(img[o:], uint16(v)) }
	le16(11, 512)
	img[13] = 1 // sectors per cluster
	le16(14, 1) // reserved sectors
	img[16] = 2 // FATs
	le16(17, 16)
	le16(19, 12)
	img[21] = 0xf8
	le16(22, 1) // sectors per FAT
	le16(24, 32)
	le16(26, 2)
	img[38] = 0x29
	copy(img[43:], "NO NAME    FAT12   ")
	img[510], img[511] = 0x55, 0xaa
	// FAT12: 2 and 3 are directories of one cluster; 4 → 5 → 6 the payload.
	fat := []byte{0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0x05, 0x60, 0x00, 0xff, 0x0f}
	copy(img[512:], fat)
	copy(img[1024:], fat)
	entry := func(at int, name string, attr byte, cluster, size int) {
		copy(img[at:], name)
		img[at+11] = attr
		le16(at+26, cluster)
		binary.LittleEndian.PutUint32(img[at+28:], uint32(size))
	}
	root, data := 3*512, 4*512 // cluster n at data+(n-2)*512
	entry(root, "EFI        ", 0x10, 2, 0)
	entry(data, ".          ", 0x10, 2, 0)
	entry(data+32, "..         ", 0x10, 0, 0)
	entry(data+64, "BOOT       ", 0x10, 3, 0)
	entry(data+512, ".          ", 0x10, 3, 0)
	entry(data+512+32, "..         ", 0x10, 2, 0)
	entry(data+512+64, "BOOTX64 EFI", 0x20, 4, len(tinyPayload))
	copy(img[data+2*512:], tinyPayload)
	return img
}

func TestTinyFATIsFAT(t *testing.T) {
	needTool(t, "fsck.fat", "mtype")
	p := filepath.Join(t.TempDir(), "tiny.img")
	must(t, os.WriteFile(p, tinyFAT(), 0o644))
	run(t, "fsck.fat", "-n", p)
	if got := run(t, "mtype", "-i", p, "::/EFI/BOOT/BOOTX64.EFI"); got != string(tinyPayload) {
		t.Fatalf("mtype reads %q", got)
	}
	b, err := readFATFile(tinyFAT(), EFIImageLoader)
	if err != nil || !bytes.Equal(b, tinyPayload) {
		t.Fatalf("readFATFile: %v, %d bytes", err, len(b))
	}
}

// mkfsFAT makes a FAT image with mkfs.fat and copies payload to EFI/BOOT/BOOTX64.EFI with
// mtools, as the EFI images inside ISOs are made.
func mkfsFAT(tb testing.TB, fatBits string, kib int, payload []byte) []byte {
	tb.Helper()
	dir := tb.TempDir()
	img, src := filepath.Join(dir, "efi.img"), filepath.Join(dir, "payload")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		tb.Fatal(err)
	}
	for _, args := range [][]string{
		{"mkfs.fat", "-F", fatBits, "-s", "1", "-C", img, strconv.Itoa(kib)},
		{"mmd", "-i", img, "::/EFI", "::/EFI/BOOT"},
		{"mcopy", "-i", img, src, "::/EFI/BOOT/BOOTX64.EFI"},
	} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b, err := os.ReadFile(img)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// isoFile reads one file out of an ISO with go-diskfs, as compose does.
func isoFile(tb testing.TB, iso, name string) []byte {
	tb.Helper()
	f, err := os.Open(iso)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	fsys, err := iso9660.Read(file.New(f, true), st.Size(), 0, 0)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := fsys.Open(name)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// mbrPartition is the bytes of primary partition n (1-based) of an isohybrid image.
func mbrPartition(tb testing.TB, img []byte, n int) []byte {
	tb.Helper()
	e := img[446+16*(n-1):]
	start, count := int64(binary.LittleEndian.Uint32(e[8:]))*512, int64(binary.LittleEndian.Uint32(e[12:]))*512
	if count == 0 || start+count > int64(len(img)) {
		tb.Fatalf("partition %d: %d bytes at %d in %d", n, count, start, len(img))
	}
	return img[start : start+count]
}

const (
	ipxeISO    = "/usr/lib/ipxe/ipxe.iso"
	memtestISO = "/usr/lib/memtest86+/memtest86+x64.iso"
)

// realFATImages are the EFI boot images Debian's packages ship: iPXE's /efi.img, the
// EFI partition and BIOS floppy of memtest86+x64.iso. Absent packages leave them out.
func realFATImages(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	if _, err := os.Stat(ipxeISO); err == nil {
		out["ipxe-efi.img"] = isoFile(tb, ipxeISO, "efi.img")
	}
	if b, err := os.ReadFile(memtestISO); err == nil {
		out["memtest-esp"] = mbrPartition(tb, b, 2)
		out["memtest-floppy.img"] = isoFile(tb, memtestISO, "boot/floppy.img")
	}
	return out
}

// setLE16 returns a copy of img with the 16-bit field at off set to v.
func setLE16(img []byte, off int, v uint16) []byte {
	b := bytes.Clone(img)
	binary.LittleEndian.PutUint16(b[off:], v)
	return b
}

func setByte(img []byte, off int, v byte) []byte {
	b := bytes.Clone(img)
	b[off] = v
	return b
}

// hostileFATs are one-field mutations of a FAT image, each named for what it breaks.
// F4 of issue 22 is "reserved-sectors-65535" on iPXE's efi.img.
func hostileFATs(img []byte) map[string][]byte {
	fat := 512 * int(binary.LittleEndian.Uint16(img[14:])) // first FAT, for 512-byte sectors
	return map[string][]byte{
		"reserved-sectors-65535":  setLE16(img, 14, 0xffff),
		"reserved-sectors-0":      setLE16(img, 14, 0),
		"bytes-per-sector-0":      setLE16(img, 11, 0),
		"bytes-per-sector-3":      setLE16(img, 11, 3),
		"bytes-per-sector-32768":  setLE16(img, 11, 0x8000),
		"sectors-per-cluster-0":   setByte(img, 13, 0),
		"sectors-per-cluster-3":   setByte(img, 13, 3),
		"sectors-per-cluster-128": setByte(img, 13, 128),
		"fats-0":                  setByte(img, 16, 0),
		"fats-255":                setByte(img, 16, 255),
		"root-entries-0":          setLE16(img, 17, 0),
		"root-entries-65535":      setLE16(img, 17, 0xffff),
		"total-sectors-65535":     setLE16(img, 19, 0xffff),
		"sectors-per-fat-0":       setLE16(img, 22, 0),
		"sectors-per-fat-65535":   setLE16(img, 22, 0xffff),
		"truncated":               img[:len(img)/2],
		"one-sector":              img[:512],
		"short":                   img[:100],
		"fat-self-loop":           fatLoop(img, fat),
	}
}

// fatLoop points every FAT12/FAT16 entry at cluster 2 (a loop for every chain).
func fatLoop(img []byte, fat int) []byte {
	b := bytes.Clone(img)
	for i := fat + 3; i+1 < fat+512 && i+1 < len(b); i += 2 {
		b[i], b[i+1] = 0x02, 0x20 // FAT12 pairs and FAT16 entries alike land on 2 or 0x202
	}
	return b
}

// Every hostile BPB or FAT is an error that names the field, not a panic (F4).
func TestFATImageHostile(t *testing.T) {
	imgs := map[string][]byte{"tiny": tinyFAT()}
	for name, b := range realFATImages(t) {
		if name != "memtest-floppy.img" { // a boot floppy, but not FAT: every mutation is "not FAT" too
			imgs[name] = b
		}
	}
	for base, img := range imgs {
		for name, bad := range hostileFATs(img) {
			b, err := readFATFile(bad, EFIImageLoader)
			if err == nil && name != "sectors-per-cluster-128" { // 128: may still find the file, further on
				t.Errorf("%s/%s: read %d bytes, want an error", base, name, len(b))
				continue
			}
			t.Logf("%s/%s: %v", base, name, err)
		}
	}
}

func TestFATImageErrorsSayWhat(t *testing.T) {
	img := tinyFAT()
	for _, tc := range []struct {
		img  []byte
		want string
	}{
		{setLE16(img, 14, 0xffff), "65535 reserved sectors, 2 FATs of 1 sectors and 16 root entries leave no data area in 12 sectors"},
		{setLE16(img, 11, 3), "3 bytes per sector"},
		{setLE16(img, 19, 24), "it claims 24 sectors, the image holds 12 (truncated)"},
		{setByte(img, 13, 0), "0 sectors per cluster"},
		{fatLoop(img, 512), "cluster chain loops"},
		{setLE16(img, 4*512+64+26, 200), "cluster 200 is past the last (9)"},
		{setLE16(img, 4*512+512+64+28, 0xffff), "its size says 65535 bytes, its clusters hold 1536"},
	} {
		_, err := readFATFile(tc.img, EFIImageLoader)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want %q, got %v", tc.want, err)
		}
	}
	if _, err := readFATFile(setLE16(img, 14, 0xffff), EFIImageLoader); !errors.Is(err, errNotFAT) {
		t.Errorf("a BPB error is not errNotFAT: %v", err)
	}
}

// The real images read back what mtools reads from them.
func TestFATImageReal(t *testing.T) {
	needTool(t, "mtype")
	imgs := realFATImages(t)
	if len(imgs) == 0 {
		missing(t, "%s and %s missing (Debian packages ipxe, memtest86+)", ipxeISO, memtestISO)
	}
	for name, img := range imgs {
		if name == "memtest-floppy.img" {
			continue // a BIOS floppy: no EFI loader in it
		}
		p := filepath.Join(t.TempDir(), name)
		must(t, os.WriteFile(p, img, 0o644))
		want := run(t, "mtype", "-i", p, "::/EFI/BOOT/BOOTX64.EFI")
		got, err := readFATFile(img, EFIImageLoader)
		if err != nil || string(got) != want {
			t.Errorf("%s: %v; %d bytes, mtools reads %d", name, err, len(got), len(want))
		}
	}
}

// fatSeeds are tinyFAT and a FAT12 image made by mkfs.fat, each with every hostileFATs
// mutation, a FAT16 image made by mkfs.fat, and with bigToo the real images (0.9 to 4 MiB each: they cut
// the fuzzer's speed tenfold; TestFATImageHostile runs their mutations).
func fatSeeds(tb testing.TB, bigToo bool) [][]byte {
	payload := bytes.Repeat([]byte("MZ generated payload\n"), 400)
	imgs, out := [][]byte{tinyFAT()}, [][]byte(nil)
	if _, err := exec.LookPath("mkfs.fat"); err == nil {
		imgs = append(imgs, mkfsFAT(tb, "12", 64, payload))
		out = append(out, mkfsFAT(tb, "16", 2200, payload)) // 2.2 MiB: alone, or the fuzzer crawls
	}
	for _, img := range imgs {
		out = append(out, img)
		for _, b := range hostileFATs(img) {
			out = append(out, b)
		}
	}
	if bigToo {
		for _, b := range realFATImages(tb) {
			out = append(out, b)
		}
	}
	return out
}

// FuzzFATImage feeds FAT images, mutated, to the reader Secure Boot checks use on an ISO's
// efi.img: it must return data or an error, never panic or read past what the image holds.
// COMPOSE_FUZZ_BIG=1 adds the EFI images of Debian's ipxe and memtest86+ ISOs.
//
//	go test -run '^$' -fuzz FuzzFATImage -fuzztime 5m ./bootloader/
func FuzzFATImage(f *testing.F) {
	for _, b := range fatSeeds(f, os.Getenv("COMPOSE_FUZZ_BIG") == "1") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, img []byte) {
		b, err := readFATFile(img, EFIImageLoader)
		if err == nil && len(b) > len(img) {
			t.Fatalf("read %d bytes out of a %d-byte image", len(b), len(img))
		}
	})
}

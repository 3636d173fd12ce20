package compose

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// gptEdit changes a kit image's primary GPT (512-byte sectors) and
// recomputes its CRCs, as a crafted stick would carry it.
type gptEdit func(img []byte, entry func(i int) []byte)

func editGPT(t *testing.T, src, dst string, edit gptEdit) {
	t.Helper()
	img, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	hdr := img[512:1024]
	entry := func(i int) []byte {
		at := int(le.Uint64(hdr[72:]))*512 + i*int(le.Uint32(hdr[84:]))
		return img[at : at+128]
	}
	edit(img, entry)
	n, esize := uint64(le.Uint32(hdr[80:])), uint64(le.Uint32(hdr[84:]))
	if n*esize <= 1<<20 {
		at := le.Uint64(hdr[72:]) * 512
		le.PutUint32(hdr[88:], crc32.ChecksumIEEE(img[at:at+n*esize]))
	}
	le.PutUint32(hdr[16:], 0)
	le.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr[:le.Uint32(hdr[12:])]))
	if err := os.WriteFile(dst, img, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestHostileGPT: a target's partition table is checked before anything
// is read by it. A header claiming 2^32-1 entries (or entries of 256 MiB)
// made go-diskfs allocate hundreds of GiB: "fatal error: out of memory",
// a crash no recover catches, in verify, plan and apply. Partitions that
// do not fit the target (a truncated copy) or overlap made verify report
// every file ok. Each is now "not a compose kit", saying why.
func TestHostileGPT(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	good := filepath.Join(dir, "kit.img")
	build(t, kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a")), filepath.Join(dir, "cache"), good)
	fi, err := os.Stat(good)
	if err != nil {
		t.Fatal(err)
	}
	sectors := uint64(fi.Size() / 512)
	le := binary.LittleEndian
	cases := []struct {
		name string
		edit gptEdit
		want string
	}{
		{"2^32-1 entries", func(img []byte, _ func(int) []byte) { le.PutUint32(img[512+80:], 0xFFFFFFFF) },
			"primary GUID partition table header claims 4294967295 entries of 128 bytes"},
		{"entries of 256 MiB", func(img []byte, _ func(int) []byte) { le.PutUint32(img[512+84:], 1<<28) },
			"claims 128 entries of 268435456 bytes"},
		{"entries of 8 bytes", func(img []byte, _ func(int) []byte) { le.PutUint32(img[512+84:], 8) },
			"partition entries of 8 bytes"},
		{"ESP past the end", func(_ []byte, e func(int) []byte) { le.PutUint64(e(1)[40:], 4*sectors) },
			"its partition 2 ends at byte " + strconv.FormatInt(int64(4*sectors+1)*512, 10) + ", but the target has " + strconv.FormatInt(fi.Size(), 10) + " bytes"},
		{"ESP ends before it starts", func(_ []byte, e func(int) []byte) { le.PutUint64(e(1)[40:], 10) },
			"its partition 2 has no valid extent"},
		{"ESP at LBA 2^64-256", func(_ []byte, e func(int) []byte) {
			le.PutUint64(e(1)[32:], 1<<64-256)
			le.PutUint64(e(1)[40:], 1<<64-1)
		}, "its partition 2 has no valid extent"},
		{"BIOS boot partition over the ESP", func(_ []byte, e func(int) []byte) {
			le.PutUint64(e(0)[40:], le.Uint64(e(1)[32:])+100)
		}, "its partitions 1 and 2 overlap"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			img := filepath.Join(t.TempDir(), "kit.img")
			editGPT(t, good, img, c.edit)
			_, err := Verify(context.Background(), VerifyOptions{Targets: []string{img}})
			if !errors.Is(err, converge.ErrNotKit) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify: %v\nwant not a kit: %s", err, c.want)
			}
			tg, err := converge.ReadTarget(img)
			if err != nil || tg.Kit || !strings.Contains(strings.Join(tg.Problems, "; "), c.want) {
				t.Fatalf("ReadTarget: kit %v, problems %q, %v", tg != nil && tg.Kit, tg.Problems, err)
			}
		})
	}

	// A copy cut short: the ESP runs past the end of the file.
	cut := filepath.Join(dir, "cut.img")
	b, _ := os.ReadFile(good)
	if err := os.WriteFile(cut, b[:20<<20], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), VerifyOptions{Targets: []string{cut}}); !errors.Is(err, converge.ErrNotKit) || !strings.Contains(err.Error(), "a truncated copy") {
		t.Fatalf("verify of a truncated copy: %v", err)
	}
	if v, err := verifyOne(t, good); err != nil || !v.OK {
		t.Fatalf("the kit itself: %+v, %v", v, err)
	}
}

package device

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// deferredKit builds a metadata-only image (disk.Spec.Defer) whose ESP
// reserves room for the host file src, and returns it with the options
// that stream src into it, pinned to digest.
func deferredKit(t *testing.T, dir, src string, size int64, digest string) (string, WriteOptions) {
	t.Helper()
	spec := disk.Spec{Seed: []byte("files test"), Defer: true, Verify: true,
		ESP:  disk.ESP{Label: "TESTKIT", Files: []disk.File{{Path: "/boot/grub/grub.cfg", Data: []byte("menu")}}},
		ISOs: []disk.File{{Path: "/isos/a.iso", Source: src, Size: size, Algorithm: "sha256", Digest: digest}}}
	img := filepath.Join(dir, "kit.img")
	res, err := disk.Build(context.Background(), img, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []File
	for _, f := range res.Files {
		if !f.Deferred {
			continue
		}
		fl := File{Name: f.Path, Source: f.Source, Size: f.Size, Algorithm: f.Algorithm, Digest: f.Digest}
		for _, e := range f.Extents {
			fl.Extents = append(fl.Extents, Extent{e.Offset, e.Length})
		}
		files = append(files, fl)
	}
	if len(files) != 1 {
		t.Fatalf("%d deferred files, want 1", len(files))
	}
	opts := force
	opts.Files = files
	for _, z := range res.Zeros {
		opts.Zeros = append(opts.Zeros, Extent{z.Offset, z.Length})
	}
	return img, opts
}

// TestWriteStreamsFiles writes a metadata-only image and its ISO, streamed
// from the source, to two old sticks at once: both end up a kit whose ISO
// reads back whole, and each got the ISO's bytes (not the image's holes).
func TestWriteStreamsFiles(t *testing.T) {
	testenv.Tools(t, "sgdisk", "fsck.fat", "mcopy")
	dir := t.TempDir()
	payload := randomBytes(30*int(MiB)+123, 3)
	copy(payload[5*MiB:], make([]byte, 8*MiB)) // zeros in the source are written too
	src := filepath.Join(dir, "a.iso")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(payload)
	img, opts := deferredKit(t, dir, src, int64(len(payload)), hex.EncodeToString(sum[:]))
	raws := []string{backing(t, t.TempDir(), 96*MiB), backing(t, t.TempDir(), 128*MiB)}
	devs := []string{loopDev(t, raws[0]), loopDev(t, raws[1])}
	for i, res := range Write(context.Background(), img, devs, opts, nil) {
		if !res.Complete || !res.Verified {
			t.Fatalf("%s: %+v", devs[i], res)
		}
		if res.Written < int64(len(payload)) {
			t.Errorf("%s: wrote %d bytes, less than the ISO", devs[i], res.Written)
		}
		if out := testenv.Run(t, "sgdisk", "-v", raws[i]); !strings.Contains(out, "No problems found") {
			t.Fatalf("sgdisk -v:\n%s", out)
		}
		esp := espSpan(t, raws[i])
		part := filepath.Join(t.TempDir(), "esp.fat")
		if err := os.WriteFile(part, readRange(t, raws[i], esp), 0o644); err != nil {
			t.Fatal(err)
		}
		testenv.Run(t, "fsck.fat", "-n", part)
		back := filepath.Join(t.TempDir(), "back.iso")
		testenv.Run(t, "mcopy", "-i", part, "::/isos/a.iso", back)
		if got, _ := os.ReadFile(back); !bytes.Equal(got, payload) {
			t.Fatalf("%s: the ISO read back differs", devs[i])
		}
	}
}

// TestWriteSourceMismatchLeavesNoKit: a source that does not hash to its
// pin (changed after it was verified) fails every device with a
// *SourceError, and no device has a partition table: none looks like a kit.
func TestWriteSourceMismatchLeavesNoKit(t *testing.T) {
	dir := t.TempDir()
	payload := randomBytes(12*int(MiB), 4)
	src := filepath.Join(dir, "a.iso")
	if err := os.WriteFile(src, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append([]byte("other"), payload[5:]...))
	img, opts := deferredKit(t, dir, src, int64(len(payload)), hex.EncodeToString(sum[:]))
	raws := []string{backing(t, t.TempDir(), 96*MiB), backing(t, t.TempDir(), 96*MiB)}
	devs := []string{loopDev(t, raws[0]), loopDev(t, raws[1])}
	for i, res := range Write(context.Background(), img, devs, opts, nil) {
		var se *SourceError
		if res.Complete || !errors.As(res.Err, &se) || !errors.Is(res.Err, ErrIncomplete) || se.Name != "/isos/a.iso" {
			t.Fatalf("%s: got %+v, want an incomplete device and a SourceError for /isos/a.iso", devs[i], res)
		}
		fi, _ := os.Stat(raws[i])
		for _, at := range []int64{0, 512, fi.Size() - 512} {
			b := readRange(t, raws[i], span{at, at + 512})
			if bytes.Contains(b, []byte("EFI PART")) || (at == 0 && b[510] == 0x55 && b[511] == 0xAA) {
				t.Errorf("%s: a partition table at %d after a failed write", devs[i], at)
			}
		}
	}
}

// espSpan reads the second GPT entry (the ESP after the BIOS boot
// partition, or the first when there is none) of a stick.
func espSpan(t *testing.T, raw string) span {
	t.Helper()
	f, err := os.Open(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := readGPT(f, 3*4096)
	if err != nil || g == nil || len(g.parts) == 0 {
		t.Fatalf("no GPT on %s: %v", raw, err)
	}
	return g.parts[len(g.parts)-1]
}

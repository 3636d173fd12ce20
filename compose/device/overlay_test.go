package device

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverlayRead lays a file's bytes over an image in chunks whose edges
// fall inside its extents, and checks the result, the digest check, and
// that a second read of the source is refused.
func TestOverlayRead(t *testing.T) {
	dir := t.TempDir()
	img := bytes.Repeat([]byte("IMG."), int(2*MiB))
	src := randomBytes(int(3*MiB)+77, 9)
	imgPath, srcPath := filepath.Join(dir, "img"), filepath.Join(dir, "src")
	os.WriteFile(imgPath, img, 0o644)
	os.WriteFile(srcPath, src, 0o644)
	ext := []Extent{{3*MiB + 100, 1000}, {4 * MiB, 2 * MiB}, {7 * MiB, int64(len(src)) - 2*MiB - 1000}}
	want := append([]byte(nil), img...)
	fo := int64(0)
	for _, e := range ext {
		copy(want[e.Offset:e.Offset+e.Length], src[fo:])
		fo += e.Length
	}
	sum := sha256.Sum256(src)
	for _, digest := range []string{hex.EncodeToString(sum[:]), strings.Repeat("0", 64)} {
		ov, err := newOverlay([]File{{Name: "/a.iso", Source: srcPath, Size: int64(len(src)), Extents: ext, Digest: digest}},
			int64(len(img)), span{0, MiB})
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(imgPath)
		got := make([]byte, len(img))
		for off := 0; off < len(img); off += 1<<20 + 4096 {
			if err := ov.read(f, got[off:min(off+1<<20+4096, len(img))], int64(off)); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatal("overlaid image differs from the expected bytes")
		}
		var se *SourceError
		if err := ov.verify(); (digest == strings.Repeat("0", 64)) != errors.As(err, &se) {
			t.Fatalf("digest %s…: verify returned %v", digest[:8], err)
		}
		if err := ov.read(f, got[:4096], 4*MiB); err == nil {
			t.Error("a second read of the source was not refused")
		}
		ov.close()
		f.Close()
	}
}

// TestOverlayRefusesBadExtents: extents that overlap, lie in the head, run
// past the image or are not in file order on the disk are refused before
// anything is written.
func TestOverlayRefusesBadExtents(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, make([]byte, 8192), 0o644)
	for name, ext := range map[string][]Extent{
		"head":      {{4096, 8192}},
		"overlap":   {{2 * MiB, 8192}, {2*MiB + 4096, 0}},
		"past end":  {{8*MiB - 4096, 8192}},
		"order":     {{3 * MiB, 4096}, {2 * MiB, 4096}},
		"too short": {{2 * MiB, 4096}},
	} {
		if _, err := newOverlay([]File{{Name: "/a", Source: src, Size: 8192, Extents: ext}}, 8*MiB, span{0, MiB}); err == nil {
			t.Errorf("%s: extents %v accepted", name, ext)
		}
	}
}

package disk

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestDeferExt4BlockSizes defers, at every block size the layout chooses
// for the data partition (1 KiB below 512 MiB, 4 KiB from there; it never
// picks 2 KiB), a file larger than one maximum extent (32768 blocks): F9,
// where 1 KiB blocks made the 128 MiB allocation step ask go-diskfs for
// 131072 blocks at once and the build failed. The sources are sparse with
// data at the start, across each extent boundary and at the end; once
// those bytes are written through the returned extents, e2fsck -fn accepts
// the volume, no leaf extent is longer than 32768 blocks, and debugfs
// reads every file back with its source's sha256. Each file's extents must
// also follow each other on the disk in file order, as the device writer
// needs (go-diskfs allocates groups' longest free runs first).
func TestDeferExt4BlockSizes(t *testing.T) {
	testenv.Tools(t, "e2fsck", "debugfs", "dd")
	for _, c := range []struct {
		name  string
		sizes []int64
		bs    int64
	}{
		{"1KiB", []int64{100*mib + 7, 33*mib + 1}, 1024},
		{"4KiB", []int64{600*mib + 3}, 4096},
	} {
		t.Run(c.name, func(t *testing.T) {
			if testing.Short() && c.bs == 4096 {
				testenv.Skip(t, "reads back a 600 MiB file; skipped with -short")
			}
			spec := espSpec(File{Path: "/EFI/BOOT/BOOTX64.EFI", Data: pattern(1000, 1)})
			for i, size := range c.sizes {
				src := sparseSource(t, size, c.bs)
				spec.Data.Files = append(spec.Data.Files, File{Path: "/isos/f" + strconv.Itoa(i) + ".iso", Source: src, Size: size})
			}
			spec.Defer = true
			img, r := build(t, spec)
			data := r.Layout.Partition(FSExt4)
			out, err := os.OpenFile(img, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range r.Files {
				if !p.Deferred {
					continue
				}
				if lengths(p.Extents) != p.Size {
					t.Fatalf("%s: extents cover %d of %d bytes", p.Path, lengths(p.Extents), p.Size)
				}
				for i := 1; i < len(p.Extents); i++ {
					if p.Extents[i].Offset < p.Extents[i-1].Offset+p.Extents[i-1].Length {
						t.Fatalf("%s: extent %d at %d comes before extent %d's end at %d: the device writer streams each file in disk order",
							p.Path, i, p.Extents[i].Offset, i-1, p.Extents[i-1].Offset+p.Extents[i-1].Length)
					}
				}
				for _, at := range sourceSpots(p.Size, c.bs) {
					writeAtFile(t, out, p.Extents, spotBytes(at), at)
				}
			}
			out.Close()
			part := filepath.Join(t.TempDir(), "data.img")
			testenv.Run(t, "dd", "if="+img, "of="+part, "bs=4M", "iflag=skip_bytes,count_bytes", "conv=sparse",
				"skip="+strconv.FormatInt(data.Offset, 10), "count="+strconv.FormatInt(data.Size, 10), "status=none")
			if bs := superBlockSize(t, part); bs != c.bs {
				t.Fatalf("the layout chose %d-byte blocks, the case is for %d", bs, c.bs)
			}
			testenv.Run(t, "e2fsck", "-fn", part)
			for _, f := range spec.Data.Files {
				checkLeafExtents(t, part, f.Path)
				if got, want := debugfsSHA256(t, part, f.Path), fileDigest(t, f.Source); got != want {
					t.Fatalf("%s: debugfs reads sha256 %s, the source has %s", f.Path, got, want)
				}
			}
		})
	}
}

// sparseSource writes a sparse file of size bytes with spotBytes at each
// of sourceSpots.
func sparseSource(t *testing.T, size, bs int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.iso")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, at := range sourceSpots(size, bs) {
		if _, err := f.WriteAt(spotBytes(at), at); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

// sourceSpots are the offsets of the written bytes: the start, across
// every 32768-block mark and the end.
func sourceSpots(size, bs int64) []int64 {
	spots := []int64{0}
	for m := 32768 * bs; m < size-4096; m += 32768 * bs {
		spots = append(spots, m-2048)
	}
	return append(spots, size-4096)
}

func spotBytes(at int64) []byte { return pattern(4096, byte(at>>10)) }

func superBlockSize(t *testing.T, part string) int64 {
	t.Helper()
	f := mustOpen(t, part)
	sb := make([]byte, 4)
	if _, err := f.ReadAt(sb, 1024+0x18); err != nil {
		t.Fatal(err)
	}
	return 1024 << binary.LittleEndian.Uint32(sb)
}

// debugfsSHA256 is the sha256 of the file as debugfs reads it.
func debugfsSHA256(t *testing.T, part, path string) string {
	t.Helper()
	cmd := exec.Command("debugfs", "-R", "cat "+path, part)
	h := sha256.New()
	cmd.Stdout = h
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("debugfs cat %s: %v\n%s", path, err, stderr.String())
	}
	return hex.EncodeToString(h.Sum(nil))
}

var extentLine = regexp.MustCompile(`(?m)^\s*\d+/\s*\d+\s+\d+/\s*\d+\s+\d+\s*-\s*\d+\s+\d+\s*-\s*\d+\s+(\d+)\s*(Uninit)?$`)

// checkLeafExtents reads the file's extent tree with debugfs and wants
// every leaf initialized and at most 32768 blocks long.
func checkLeafExtents(t *testing.T, part, path string) {
	t.Helper()
	out := testenv.Run(t, "debugfs", "-R", "ex "+path, part)
	leaves := 0
	for _, m := range extentLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[1])
		if m[2] != "" || n > 32768 {
			t.Fatalf("%s: extent of %d blocks %s:\n%s", path, n, m[2], out)
		}
		leaves++
	}
	if leaves == 0 {
		t.Fatalf("%s: no extents in debugfs's answer:\n%s", path, out)
	}
}

package udf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
)

func openBytes(b []byte) (*FS, error) {
	return Open(context.Background(), bytes.NewReader(b), int64(len(b)))
}

func checkSynth(t *testing.T, img []byte, bs int) {
	t.Helper()
	checkSynthAt(t, bytes.NewReader(img), int64(len(img)), bs)
}

func checkSynthAt(t *testing.T, r io.ReaderAt, size int64, bs int) {
	t.Helper()
	u, err := Open(context.Background(), r, size)
	if err != nil {
		t.Fatal(err)
	}
	if u.Revision != synthRev || u.Label != "SYNTH LV" || u.BlockSize() != int64(bs) {
		t.Errorf("revision %#x label %q block size %d", u.Revision, u.Label, u.BlockSize())
	}
	for name, want := range synthFiles(bs) {
		got, err := fs.ReadFile(u, name)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	var names []string
	err = fs.WalkDir(u, ".", func(p string, _ fs.DirEntry, err error) error {
		names = append(names, p)
		return err
	})
	if want := ". big.bin embedded.txt sub sub/deep.txt 名前.txt"; err != nil || strings.Join(names, " ") != want {
		t.Errorf("walk: %q, %v; want %s", names, err, want)
	}
	fi, err := u.Stat("sub/deep.txt")
	if err != nil || !fi.ModTime().Equal(time.Date(2026, 12, 8, 0, 2, 3, 0, time.UTC)) {
		t.Errorf("mtime %v, %v", fi.ModTime(), err)
	}
}

// TestMetadataPartition reads a UDF 2.60 image whose directories and file
// entries are in a metadata partition (block sizes 512 and 2048).
func TestMetadataPartition(t *testing.T) {
	for _, bs := range []int{512, 2048} {
		t.Run(fmt.Sprint(bs), func(t *testing.T) { checkSynth(t, buildSynth(bs), bs) })
	}
}

// shifted is a synthetic image with gap blocks of zeros inserted before
// its partition, which is moved there: the partition's data then lies
// past 4 GiB in an image of 6 GiB that is never allocated.
type shifted struct {
	img     []byte
	bs, gap int64
}

func (s shifted) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		at := off + int64(i)
		switch {
		case at < partStart*s.bs:
			p[i] = s.img[at]
		case at < (partStart+s.gap)*s.bs:
			p[i] = 0
		case at-s.gap*s.bs < int64(len(s.img)):
			p[i] = s.img[at-s.gap*s.bs]
		default:
			return i, io.EOF
		}
	}
	return len(p), nil
}

// TestPartitionPast4GiB reads files whose data, entries and metadata
// partition lie 6 GiB into the image.
func TestPartitionPast4GiB(t *testing.T) {
	const bs, gap = 2048, 3 << 20 // 6 GiB of blocks
	img := buildSynth(bs)
	for _, at := range []int{33, 49} { // both partition descriptors
		pd := img[at*bs : at*bs+512]
		le.PutUint32(pd[188:], partStart+gap)
		tag(pd, tagPartitionDesc, at)
	}
	clear(img[len(img)-bs:]) // the last block's anchor is no longer last
	checkSynthAt(t, shifted{img, bs, gap}, int64(len(img))+gap*bs, bs)
}

// A damaged metadata file entry is read from its mirror; with both
// damaged the error says so.
func TestMetadataMirror(t *testing.T) {
	img := buildSynth(2048)
	img[partStart*2048+200] ^= 0xFF // the main entry's CRC no longer matches
	checkSynth(t, img, 2048)
	img[(partStart+1)*2048+200] ^= 0xFF
	_, err := openBytes(img)
	if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "metadata partition file at block 0") || !strings.Contains(err.Error(), "its mirror") {
		t.Errorf("want both metadata entries named, got %v", err)
	}
}

// An anchor at block 256 that fails its checksum leaves the last block's.
func TestAnchorFallback(t *testing.T) {
	img := buildSynth(2048)
	img[256*2048+4]++
	checkSynth(t, img, 2048)
}

// vdPointer makes block at of img a volume descriptor pointer to a
// sequence of 4 blocks at block to.
func vdPointer(img []byte, bs, at, to int) {
	b := img[at*bs : at*bs+512]
	clear(b)
	le.PutUint32(b[20:], uint32(4*bs))
	le.PutUint32(b[24:], uint32(to))
	tag(b, tagVDPointer, at)
}

// A volume descriptor pointer in the main sequence is followed: the
// logical volume and terminating descriptors move to blocks 40-41 (tags
// rewritten there), a pointer takes their place, the reserve sequence is
// gone.
func TestVolumeDescriptorPointer(t *testing.T) {
	const bs = 2048
	img := buildSynth(bs)
	for i := range 2 {
		copy(img[(40+i)*bs:(41+i)*bs], img[(34+i)*bs:(35+i)*bs])
		tag(img[(40+i)*bs:(40+i)*bs+[]int{510, 512}[i]], le.Uint16(img[(40+i)*bs:]), 40+i)
	}
	vdPointer(img, bs, 34, 40)
	clear(img[48*bs : 52*bs])
	checkSynth(t, img, bs)
}

// TestHostile: structures that claim too much, or loop, are errors that
// say what and where.
func TestHostile(t *testing.T) {
	bs := 2048
	blk := func(b []byte, p int) []byte { return b[(partStart+p)*bs : (partStart+p+1)*bs] }
	for _, tc := range []struct {
		name string
		edit func(img []byte)
		open bool // the error comes from Open, else from reading big.bin
		want string
	}{
		{"no anchor", func(img []byte) {
			clear(img[256*bs : 257*bs])
			clear(img[len(img)-bs:])
		}, true, "no anchor volume descriptor pointer"},
		{"bad checksums", func(img []byte) { img[256*bs+4]++; img[len(img)-bs+4]++ }, true, "no anchor"},
		{"allocation extent loop", func(img []byte) {
			aed := blk(img, 50)
			copy(aed[24:], longAD4(bs, 50, 0, 3)) // continues at itself
			tag(aed[:24+32], tagAllocExtent, 50)
		}, false, "more than 4096 allocation extents"},
		{"extent past the partition", func(img []byte) {
			aed := blk(img, 50)
			copy(aed[24+16:], longAD4(bs+100, partLen+5, 0, 0))
			tag(aed[:24+32], tagAllocExtent, 50)
		}, false, "outside its partition"},
		{"volume descriptor pointer loop", func(img []byte) {
			vdPointer(img, bs, 34, 34)
			vdPointer(img, bs, 48, 48)
		}, true, "more than 16 pointers"},
		{"partition maps overflow", func(img []byte) {
			for _, at := range []int{34, 50} {
				lvd := img[at*bs : at*bs+512]
				le.PutUint32(lvd[268:], 1000)
				tag(lvd[:510], tagLogicalVol, at)
			}
		}, true, "partition maps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := buildSynth(bs)
			tc.edit(img)
			u, err := openBytes(img)
			if !tc.open && err == nil {
				_, err = fs.ReadFile(u, "big.bin")
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want ErrMalformed %q, got %v", tc.want, err)
			}
		})
	}
}

// udftools' udfinfo finds the synthetic image's file set descriptor
// through the metadata partition too: the builder's layout is not only
// this reader's idea of UDF 2.60.
func TestSynthAgreesWithUdfinfo(t *testing.T) {
	testenv.Tools(t, "udfinfo")
	for _, bs := range []int{512, 2048} {
		img := filepath.Join(t.TempDir(), "synth.img")
		if err := os.WriteFile(img, buildSynth(bs), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command("udfinfo", "--blocksize="+fmt.Sprint(bs), img).CombinedOutput()
		for _, want := range []string{"fsid=SYNTH FS", "lvid=SYNTH LV", "udfrev=2.60", fmt.Sprintf("blocksize=%d", bs)} {
			if !strings.Contains(string(out), want+"\n") {
				t.Errorf("block size %d: udfinfo lacks %q:\n%s", bs, want, out)
			}
		}
	}
}

package disk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// streamed is a File whose bytes come through Open, as a Windows ISO's
// files do (read through compose/udf).
func streamed(path string, data []byte) File {
	return File{Path: path, Size: int64(len(data)), Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

func volumeSpec(size int64) Spec {
	spec := persistSpec(size)
	spec.Volumes = []Volume{{Name: "windows win11", Label: "WIN11", Files: []File{
		streamed("/sources/install.swm", pattern(5<<20, 7)),
		streamed("/bootmgr", pattern(400<<10, 8)),
		streamed("/efi/boot/bootx64.efi", pattern(100<<10, 9)),
		{Path: "/autounattend.xml", Data: []byte("<unattend/>\n")},
	}}}
	return spec
}

// TestVolumeBeforePersistence: a Volume is a FAT32 basic-data partition
// with its label and streamed files, placed after the data partition and
// right in front of the persistence partitions, which stay at the disk's
// end; sgdisk -v, fsck.fat -n and mcopy read it back byte for byte.
func TestVolumeBeforePersistence(t *testing.T) {
	for _, size := range []int64{0, 300 * mib} {
		img, r := build(t, volumeSpec(size))
		checkImage(t, img, r.Layout)
		parts := r.Layout.Partitions
		if len(parts) != 5 {
			t.Fatalf("size %d: %d partitions, want ESP, data, volume, two persistence", size, len(parts))
		}
		v := parts[2]
		if v.Type != TypeBasicData || v.FS != FSFAT32 || v.Label != "WIN11" || v.Name != "windows win11" {
			t.Fatalf("size %d: partition 3 is %+v", size, v)
		}
		if v.Offset+v.Size != parts[3].Offset {
			t.Errorf("size %d: volume ends at %d, persistence starts at %d", size, v.Offset+v.Size, parts[3].Offset)
		}
		if end := r.Layout.Size - gptTailSize; parts[4].Offset+parts[4].Size != end {
			t.Errorf("size %d: persistence does not end at the disk's end", size)
		}
		out := testenv.Run(t, "sgdisk", "-i", "3", img)
		if !strings.Contains(out, TypeBasicData) || !strings.Contains(out, "'windows win11'") {
			t.Errorf("size %d: sgdisk -i 3:\n%s", size, out)
		}
		if out := testenv.Run(t, "fatlabel", extract(t, img, v)); strings.TrimSpace(out) != "WIN11" {
			t.Errorf("size %d: fatlabel says %q", size, out)
		}
	}
}

// TestVolumePersistenceUnmoved: adding a volume to a kit with an explicit
// size leaves the persistence partitions where they were.
func TestVolumePersistenceUnmoved(t *testing.T) {
	before, err := ComputeLayout(persistSpec(300 * mib))
	if err != nil {
		t.Fatal(err)
	}
	after, err := ComputeLayout(volumeSpec(300 * mib))
	if err != nil {
		t.Fatal(err)
	}
	b, a := before.Partitions[len(before.Partitions)-2:], after.Partitions[len(after.Partitions)-2:]
	for i := range b {
		if b[i].Offset != a[i].Offset || b[i].Size != a[i].Size {
			t.Errorf("persistence %s moved: %d+%d -> %d+%d", b[i].Label, b[i].Offset, b[i].Size, a[i].Offset, a[i].Size)
		}
	}
}

func TestVolumeRefused(t *testing.T) {
	for name, mod := range map[string]func(*Spec){
		"big file":   func(s *Spec) { s.Volumes[0].Files[0].Size = 4 << 30 },
		"bad label":  func(s *Spec) { s.Volumes[0].Label = "win11" },
		"no name":    func(s *Spec) { s.Volumes[0].Name = "" },
		"same name":  func(s *Spec) { s.Volumes = append(s.Volumes, s.Volumes[0]) },
		"bad path":   func(s *Spec) { s.Volumes[0].Files[0].Path = "/a:b" },
		"short disk": func(s *Spec) { s.Size = 100 * mib },
	} {
		spec := volumeSpec(300 * mib)
		mod(&spec)
		if _, err := ComputeLayout(spec); err == nil {
			t.Errorf("%s: no error", name)
		} else if name == "big file" && !errors.Is(err, ErrFileTooBig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVolumeShortStream: an Open that gives fewer bytes than Size fails
// the build.
func TestVolumeShortStream(t *testing.T) {
	spec := volumeSpec(0)
	spec.Volumes[0].Files[0].Size++
	if _, err := Build(t.Context(), t.TempDir()+"/kit.img", spec, nil); err == nil {
		t.Fatal("Build placed a short stream")
	}
}

// TestVolumeZerosDeferred: in a deferred build (apply --device) a streamed
// file's all-zero chunks are written, not left as holes: the device writer
// skips holes, which would leave a reused stick's old bytes there.
func TestVolumeZerosDeferred(t *testing.T) {
	spec := volumeSpec(0)
	spec.Defer = true
	zeros := make([]byte, 16<<20)
	spec.Volumes[0].Files = append(spec.Volumes[0].Files, streamed("/sources/zeros.bin", zeros))
	img, r := build(t, spec)
	var ext []Extent
	for _, p := range r.Files {
		if p.Path == "/sources/zeros.bin" {
			ext = p.Extents
		}
	}
	if len(ext) == 0 {
		t.Fatal("no extents for /sources/zeros.bin")
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, e := range ext {
		if data, hole, err := nextData(f, e.Offset, e.Offset+e.Length); err != nil || data != e.Offset || hole < e.Offset+e.Length {
			t.Fatalf("extent %+v: data from %d to %d (%v): a hole the device writer would skip", e, data, hole, err)
		}
	}
}

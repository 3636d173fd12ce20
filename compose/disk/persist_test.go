package disk

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

func persistSpec(size int64) Spec {
	spec := espSpec(File{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")})
	spec.Size = size
	spec.ISOs = []File{{Path: "/isos/a.iso", Data: pattern(3<<20, 1)}}
	spec.Placement = PlaceAllOnData
	conf := []File{{Path: "/persistence.conf", Data: []byte("/ union\n")}}
	spec.Persist = []Persist{
		{Entry: "debian", Name: "persist debian", Label: "persist-debian", Size: 64 * mib, Files: conf},
		{Entry: "kali", Name: "persist kali", Label: "persist-kali", Size: 96 * mib, Files: conf, Dirs: []string{"/overlayfs", "/ovlwork"}},
	}
	return spec
}

// TestPersistAtTheEnd: persistence partitions are the last ones, at the
// end of the disk in the order given, fresh ext4 volumes with their label,
// GPT name and files (e2fsck -fn, debugfs), for size: auto and an
// explicit size alike.
func TestPersistAtTheEnd(t *testing.T) {
	for _, size := range []int64{0, 512 * mib} {
		img, r := build(t, persistSpec(size))
		checkImage(t, img, r.Layout)
		parts := r.Layout.Partitions
		if len(parts) != 4 {
			t.Fatalf("size %d: %d partitions, want ESP, data and two persistence", size, len(parts))
		}
		deb, kali := parts[2], parts[3]
		if deb.Persistence != "debian" || kali.Persistence != "kali" {
			t.Fatalf("size %d: partitions 3 and 4 are %+v, %+v", size, deb, kali)
		}
		if end := r.Layout.Size - gptTailSize; kali.Offset+kali.Size != end || deb.Offset+deb.Size != kali.Offset {
			t.Errorf("size %d: persistence at %d+%d and %d+%d, want them to end at the disk's end %d", size, deb.Offset, deb.Size, kali.Offset, kali.Size, end)
		}
		if r.Layout.Partition(FSExt4).Persistence != "" {
			t.Errorf("size %d: Partition(ext4) is a persistence partition", size)
		}
		out := testenv.Run(t, "sgdisk", "-i", "4", img)
		if !strings.Contains(out, "'persist kali'") {
			t.Errorf("size %d: sgdisk -i 4:\n%s", size, out)
		}
		part := extract(t, img, kali)
		if out := testenv.Run(t, "debugfs", "-R", "stats", part); !strings.Contains(out, "Filesystem volume name:   persist-kali") {
			t.Errorf("size %d: debugfs stats:\n%s", size, out)
		}
		if out := testenv.Run(t, "debugfs", "-R", "ls -l /", part); !strings.Contains(out, "ovlwork") || !strings.Contains(out, "overlayfs") {
			t.Errorf("size %d: no dirs /overlayfs and /ovlwork:\n%s", size, out)
		}
	}
}

// TestPersistKeptOnRebuild: a rebuild in full with a persistence
// partition kept at its offset lays the rest out in front of it, with
// other contents, and copies its bytes (the user's file included)
// unchanged.
func TestPersistKeptOnRebuild(t *testing.T) {
	testenv.Tools(t, "debugfs")
	spec := persistSpec(512 * mib)
	old, r := build(t, spec)
	deb := r.Layout.Partitions[2]
	userData(t, old, deb)
	before := readRange(t, old, deb.Offset, deb.Size)

	f, err := os.Open(old)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	next := persistSpec(512 * mib)
	next.ISOs = []File{{Path: "/isos/b.iso", Data: pattern(40<<20, 7)}}
	next.Seed = []byte("another kit")
	next.Persist = []Persist{{Entry: "debian", Name: deb.Name, Label: deb.Label, Size: deb.Size, Offset: deb.Offset, GUID: deb.GUID, Keep: true, From: f},
		next.Persist[1]}
	img, r2 := build(t, next)
	checkImage(t, img, r2.Layout)
	got, kali := r2.Layout.Partitions[3], r2.Layout.Partitions[2]
	if got.Offset != deb.Offset || got.GUID != deb.GUID || got.Persistence != "debian" {
		t.Fatalf("kept partition is %+v, was %+v", got, deb)
	}
	if !bytes.Equal(readRange(t, img, got.Offset, got.Size), before) {
		t.Fatal("the kept persistence partition's bytes changed")
	}
	if kali.Persistence != "kali" || kali.Offset+kali.Size != got.Offset {
		t.Errorf("a new persistence partition went to %d, not below the kept one at %d", kali.Offset, got.Offset)
	}
}

func TestPersistRefused(t *testing.T) {
	for name, edit := range map[string]func(*Spec){
		"too small disk":  func(s *Spec) { s.Size = 100 * mib },
		"kept, auto size": func(s *Spec) { s.Size, s.Persist[0].Offset, s.Persist[0].Keep = 0, 400*mib, true },
		"long label":      func(s *Spec) { s.Persist[0].Label = "persistence-debian" },
		"same label":      func(s *Spec) { s.Persist[1].Label = s.Persist[0].Label },
		"not MiB":         func(s *Spec) { s.Persist[0].Size += 512 },
		"kept beyond end": func(s *Spec) { s.Persist[0].Offset, s.Persist[0].Keep = 500*mib, true },
	} {
		spec := persistSpec(512 * mib)
		edit(&spec)
		_, err := ComputeLayout(spec)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if name == "too small disk" && !errors.Is(err, ErrTooSmall) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// userData writes a file into the ext4 volume of p in img, as a live
// system would, through debugfs on a copy put back in place.
func userData(t *testing.T, img string, p Partition) {
	t.Helper()
	part := extract(t, img, p)
	src := t.TempDir() + "/notes.txt"
	if err := os.WriteFile(src, []byte("the user's work\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("debugfs", "-w", "-R", "write "+src+" notes.txt", part).CombinedOutput(); err != nil {
		t.Fatalf("debugfs write: %v\n%s", err, out)
	}
	b, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(img, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, p.Offset); err != nil {
		t.Fatal(err)
	}
}

func readRange(t *testing.T, path string, off, n int64) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

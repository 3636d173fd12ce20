package compose

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// splitWindowsISO builds a Windows-layout UDF ISO (files on the UDF side
// only, as oscdimg lays them out) whose install.wim holds four 1 MiB
// random files, so that a 2.5 MiB limit splits it; it returns the ISO and
// the tree it was made from.
func splitWindowsISO(t *testing.T) (string, string) {
	testenv.Tools(t, "genisoimage", "wimcapture", "wimappend")
	dir := t.TempDir()
	tree, content := filepath.Join(dir, "tree"), filepath.Join(dir, "content")
	rng := rand.New(rand.NewPCG(26, 1))
	write := func(p string, b []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		write(filepath.Join(content, "Windows", "f"+strconv.Itoa(i)+".dll"), b)
	}
	write(filepath.Join(tree, "bootmgr"), []byte("stand-in bootmgr"))
	write(filepath.Join(tree, "efi/boot/bootx64.efi"), []byte("MZ stand-in EFI loader"))
	write(filepath.Join(tree, "sources/boot.wim"), []byte("stand-in Windows PE"))
	write(filepath.Join(tree, "README.TXT"), []byte("This disc contains a UDF file system.\n"))
	wimPath := filepath.Join(tree, "sources/install.wim")
	testenv.Run(t, "wimcapture", content, wimPath, "Windows 11 Pro")
	testenv.Run(t, "wimappend", content, wimPath, "Windows 11 Home")
	iso := filepath.Join(dir, "win11.iso")
	testenv.Run(t, "genisoimage", "-quiet", "-udf", "-V", "WIN11", "-o", iso,
		"-hide", "bootmgr", "-hide", "efi", "-hide", "sources", tree)
	return iso, tree
}

// TestWindowsVolumeSplit: a Windows ISO's files, read through compose/udf
// and streamed into a FAT32 basic-data partition, read back byte for byte
// with mtools (against the tree the ISO was made from); its install.wim,
// over the limit, is there as .swm parts that wimlib verifies and that
// hold both editions, and no install.wim is left.
func TestWindowsVolumeSplit(t *testing.T) {
	testenv.Tools(t, "sgdisk", "fsck.fat", "mcopy", "wimverify", "wiminfo")
	iso, tree := splitWindowsISO(t)
	v, split, err := windowsVolume(t.Context(), iso, "win11", 5<<19)
	if err != nil {
		t.Fatal(err)
	}
	if split == nil || len(split.Parts) < 2 || split.Parts[0] != "/sources/install.swm" || split.Parts[1] != "/sources/install2.swm" {
		t.Fatalf("split = %+v, want install.swm, install2.swm, …", split)
	}
	img := filepath.Join(t.TempDir(), "kit.img")
	spec := disk.Spec{Seed: []byte("win"), ESP: disk.ESP{Files: []disk.File{{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")}}},
		Volumes: []disk.Volume{v}}
	r, err := disk.Build(t.Context(), img, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if out := testenv.Run(t, "sgdisk", "-v", img); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v:\n%s", out)
	}
	p := r.Layout.Partitions[len(r.Layout.Partitions)-1]
	if p.Type != disk.TypeBasicData || p.Label != "WIN11" {
		t.Fatalf("last partition %+v", p)
	}
	if out, err := exec.Command("fsck.fat", "-n", partitionFile(t, img, p)).CombinedOutput(); err != nil {
		t.Fatalf("fsck.fat -n: %v\n%s", err, out)
	}
	at := img + "@@" + strconv.FormatInt(p.Offset, 10)
	out := t.TempDir()
	for _, f := range []string{"bootmgr", "efi/boot/bootx64.efi", "sources/boot.wim", "README.TXT"} {
		dst := filepath.Join(out, filepath.Base(f))
		testenv.Run(t, "mcopy", "-n", "-i", at, "::/"+f, dst)
		if !sameFile(t, dst, filepath.Join(tree, f)) {
			t.Errorf("%s differs from the ISO's", f)
		}
	}
	if err := exec.Command("mcopy", "-n", "-i", at, "::/sources/install.wim", out).Run(); err == nil {
		t.Error("install.wim is on the partition beside its parts")
	}
	for _, part := range split.Parts {
		testenv.Run(t, "mcopy", "-n", "-i", at, "::"+part, out)
	}
	refs := "--ref=" + filepath.Join(out, "install*.swm")
	testenv.Run(t, "wimverify", filepath.Join(out, "install.swm"), refs)
	if info := testenv.Run(t, "wiminfo", filepath.Join(out, "install.swm")); !strings.Contains(info, "Windows 11 Home") || !strings.Contains(info, "Windows 11 Pro") {
		t.Errorf("wiminfo:\n%s", info)
	}
}

func partitionFile(t *testing.T, img string, p disk.Partition) string {
	in, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	name := filepath.Join(t.TempDir(), "part.img")
	o, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := io.Copy(o, io.NewSectionReader(in, p.Offset, p.Size)); err != nil {
		t.Fatal(err)
	}
	return name
}

func sameFile(t *testing.T, a, b string) bool {
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(x, y)
}

func TestWindowsLabel(t *testing.T) {
	for name, want := range map[string]string{"win11": "WIN11", "windows-11-pro-x64": "WINDOWS_11_", "a.b": "A_B"} {
		if got := windowsLabel(name); got != want {
			t.Errorf("windowsLabel(%q) = %q, want %q", name, got, want)
		}
	}
}

// The plan shows the split of an install.wim over the limit, and apply
// writes exactly those parts, which wimlib verifies.
func TestPlanSplitsInstallWIM(t *testing.T) {
	testenv.Tools(t, "mcopy", "wimverify", "sgdisk")
	defer func(old int64) { windowsMaxFile = old }(windowsMaxFile)
	windowsMaxFile = 5 << 19
	iso, _ := splitWindowsISO(t)
	dir := t.TempDir()
	m := kitWith(t, dir, "firmware: [uefi-x64]", iso)
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)
	s := p.Windows[0].Split
	if s == nil || s.Source != "/sources/install.wim" || len(s.Parts) < 2 || len(s.Sizes) != len(s.Parts) {
		t.Fatalf("split %+v", s)
	}
	var part disk.Partition
	for _, pp := range p.lay.Partitions {
		if pp.Index == p.Windows[0].Partition {
			part = pp
		}
	}
	at := img + "@@" + strconv.FormatInt(part.Offset, 10)
	out := t.TempDir()
	for i, name := range s.Parts {
		testenv.Run(t, "mcopy", "-n", "-i", at, "::"+name, out)
		if st, err := os.Stat(filepath.Join(out, filepath.Base(name))); err != nil || st.Size() != s.Sizes[i] || st.Size() > windowsMaxFile {
			t.Errorf("%s: %v, planned %d bytes", name, err, s.Sizes[i])
		}
	}
	testenv.Run(t, "wimverify", filepath.Join(out, "install.swm"), "--ref="+filepath.Join(out, "install*.swm"))
}

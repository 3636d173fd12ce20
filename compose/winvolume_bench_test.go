package compose

import (
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// BenchmarkWindowsPartition builds a Windows partition from a 256 MiB
// Windows-layout ISO (its install.wim uncompressed random data, split in
// four by a lowered limit) through disk.Build, and copies the ISO's bytes
// with io.Copy between two files in the same run; it reports the ratio
// of the copy's time to the build's (cp/build; 1 is disk speed). Like
// with like: both read the ISO from the page cache (it was just written)
// and move its bytes with copy_file_range (io.Copy between two *os.File;
// the build's File.Copy for the UDF files and the parts' resources), and
// both fsync what they wrote (the build through atomicfile.Commit, which
// also renames the image and syncs its directory; the copy with Sync). The
// build also writes the GPT, the ESP and the FAT metadata, and generates
// each part's header, lookup table and XML.
func BenchmarkWindowsPartition(b *testing.B) {
	testenv.Tools(b, "genisoimage", "wimcapture")
	dir := b.TempDir()
	content, tree := filepath.Join(dir, "content"), filepath.Join(dir, "tree")
	for _, d := range []string{content, filepath.Join(tree, "efi/boot"), filepath.Join(tree, "sources")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 8 {
		buf := make([]byte, 32<<20)
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(content, "f"+string(rune('a'+i))), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for p, s := range map[string]string{"bootmgr": "bootmgr", "efi/boot/bootx64.efi": "MZ", "sources/boot.wim": "pe"} {
		if err := os.WriteFile(filepath.Join(tree, p), []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	testenv.Run(b, "wimcapture", "--compress=none", content, filepath.Join(tree, "sources/install.wim"), "Windows 11 Pro")
	iso := filepath.Join(dir, "win.iso")
	if out, err := exec.Command("genisoimage", "-quiet", "-udf", "-V", "WIN", "-o", iso, "-hide", "bootmgr", "-hide", "efi", "-hide", "sources", tree).CombinedOutput(); err != nil {
		b.Fatalf("genisoimage: %v\n%s", err, out)
	}
	v, _, err := windowsVolume(b.Context(), iso, "win", 80<<20)
	if err != nil {
		b.Fatal(err)
	}
	spec := disk.Spec{Seed: []byte("bench"), ESP: disk.ESP{Files: []disk.File{{Path: "/boot/grub/grub.cfg", Data: []byte("cfg")}}}, Volumes: []disk.Volume{v}}
	var build, cp time.Duration = 1 << 62, 1 << 62
	for b.Loop() {
		start := time.Now()
		img := filepath.Join(dir, "kit.img")
		if _, err := disk.Build(b.Context(), img, spec, nil); err != nil {
			b.Fatal(err)
		}
		build = min(build, time.Since(start))
		os.Remove(img)
		start = time.Now()
		plainCopy(b, iso, filepath.Join(dir, "copy"))
		cp = min(cp, time.Since(start))
	}
	b.ReportMetric(cp.Seconds()/build.Seconds(), "cp/build")
	b.Logf("build %.2f s, io.Copy %.2f s of %d MiB", build.Seconds(), cp.Seconds(), fileSize(b, iso)>>20)
}

func plainCopy(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Sync(); err != nil {
		b.Fatal(err)
	}
	out.Close()
	os.Remove(dst)
}

func fileSize(b *testing.B, p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

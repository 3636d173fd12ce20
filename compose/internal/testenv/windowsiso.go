package testenv

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// WindowsISO describes a synthetic Windows installer ISO: the layout of a
// real one (bootmgr, efi/boot/boot*.efi, sources/boot.wim, an install
// image) with stand-in loaders, laid out as oscdimg does: the files on the
// UDF side only, the ISO 9660 side holding just a README.
type WindowsISO struct {
	Label   string
	Install string // "wim", "esd" or "swm"; "" leaves the install image out
	StandIn bool   // the install image is a few bytes of text, not a WIM
	ARM64   bool   // efi/boot/bootaa64.efi instead of bootx64.efi
	BIOS    bool   // a bootmgr at the root
	// Editions name the install image's images (wimcapture, wimappend).
	Editions []string
	// Content is the bytes of random data captured into the install
	// image; 0 means 3 MiB (enough for wimsplit to make two 2 MiB parts).
	Content int
}

// Build writes the ISO into dir and returns its path. It needs
// genisoimage, and wimtools for the install image.
func (w WindowsISO) Build(t testing.TB, dir string) string {
	t.Helper()
	Tools(t, "genisoimage")
	tree := filepath.Join(dir, "wintree")
	efi := "efi/boot/bootx64.efi"
	if w.ARM64 {
		efi = "efi/boot/bootaa64.efi"
	}
	files := map[string]string{"README.TXT": "This disc contains a UDF file system.\n", efi: "MZ stand-in EFI loader",
		"sources/boot.wim": "stand-in Windows PE", "setup.exe": "MZ stand-in"}
	if w.BIOS {
		files["bootmgr"] = "stand-in bootmgr"
	}
	for p, data := range files {
		writeFile(t, filepath.Join(tree, p), data)
	}
	switch {
	case w.Install != "" && w.StandIn:
		writeFile(t, filepath.Join(tree, "sources", "install."+w.Install), "stand-in install image")
	case w.Install != "":
		w.installImage(t, dir, filepath.Join(tree, "sources"))
	}
	iso := filepath.Join(dir, strings.ToLower(w.Label)+".iso")
	args := []string{"-quiet", "-udf", "-V", w.Label, "-o", iso}
	for _, hidden := range []string{"bootmgr", "efi", "sources", "setup.exe"} {
		args = append(args, "-hide", hidden) // UDF side only, as oscdimg does
	}
	Run(t, "genisoimage", append(args, tree)...)
	return iso
}

// installImage writes a real WIM with w.Editions as its images, each
// holding w.Content random bytes.
func (w WindowsISO) installImage(t testing.TB, dir, sources string) {
	t.Helper()
	Tools(t, "wimcapture", "wimappend", "wimsplit")
	content := filepath.Join(dir, "wincontent")
	rng := rand.New(rand.NewPCG(26, 26))
	if w.Content == 0 {
		w.Content = 3 << 20
	}
	random := make([]byte, w.Content)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	writeFile(t, filepath.Join(content, "Windows", "System32", "big.dll"), string(random))
	wimPath := filepath.Join(dir, "install.wim")
	for i, ed := range w.Editions {
		verb := "wimcapture"
		if i > 0 {
			verb = "wimappend"
		}
		args := []string{content, wimPath, ed}
		if w.Install == "esd" {
			args = append(args, "--solid")
		}
		Run(t, verb, args...)
	}
	switch w.Install {
	case "wim":
		Run(t, "cp", wimPath, filepath.Join(sources, "install.wim"))
	case "esd":
		Run(t, "cp", wimPath, filepath.Join(sources, "install.esd"))
	case "swm":
		Run(t, "wimsplit", wimPath, filepath.Join(sources, "install.swm"), "2")
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

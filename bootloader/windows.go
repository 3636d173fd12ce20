package bootloader

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/usbkit/compose/config/bytesize"
)

// Windows is a Windows installer (Windows Setup from boot.wim, installing
// from install.wim, .esd or .swm parts). It is detected and inspected
// only: compose cannot put one on a stick yet.
const Windows Family = "windows"

// WindowsLayout is what a Windows installer ISO's UDF side holds. Paths
// are absolute in the ISO, as the ISO spells them (Windows matches them
// without case).
type WindowsLayout struct {
	BIOSLoader   string   `json:"bios_loader,omitempty"` // /bootmgr: what BIOS boots
	BootImage    string   `json:"boot_image"`            // /sources/boot.wim: Windows PE with Setup
	InstallImage string   `json:"install_image"`         // /sources/install.wim, .esd or the first .swm
	InstallKind  string   `json:"install_kind"`          // wim, esd or swm
	InstallParts []string `json:"install_parts,omitempty"`
	InstallSize  int64    `json:"install_size"` // bytes, every part together
	// Editions are the install image's images as its XML names them;
	// empty when the image's header or XML could not be read.
	Editions []WindowsEdition `json:"editions,omitempty"`
}

// WindowsEdition is one image of an install image.
type WindowsEdition struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
	Arch  string `json:"architecture,omitempty"`
}

// windowsEFILoaders are the removable-media loaders a Windows ISO carries.
var windowsEFILoaders = map[Arch]string{X86_64: "efi/boot/bootx64.efi", ARM64: "efi/boot/bootaa64.efi", IA32: "efi/boot/bootia32.efi"}

// InspectWindows says whether fsys (an ISO's UDF side) is a Windows
// installer: sources/boot.wim, sources/install.wim|esd|swm, and bootmgr
// or an x64/arm64 EFI loader under efi/boot. Names match without case.
func InspectWindows(fsys fs.FS, volumeLabel string) (Detection, bool, error) {
	boot, _, err := findFold(fsys, "sources/boot.wim")
	if err != nil || boot == "" {
		return Detection{}, false, err
	}
	w := &WindowsLayout{BootImage: "/" + boot}
	if ok, err := w.findInstall(fsys); err != nil || !ok {
		return Detection{}, false, err
	}
	bios, _, err := findFold(fsys, "bootmgr")
	if err != nil {
		return Detection{}, false, err
	}
	if bios != "" {
		w.BIOSLoader = "/" + bios
	}
	d := Detection{Family: Windows, Label: strings.TrimSpace(volumeLabel), EFILoaders: map[Arch]string{}, Windows: w}
	for _, a := range []Arch{X86_64, ARM64, IA32} {
		p, _, err := findFold(fsys, windowsEFILoaders[a])
		if err != nil {
			return Detection{}, false, err
		}
		if p != "" {
			d.EFILoaders[a] = "/" + p
			d.Arches = append(d.Arches, a)
		}
	}
	if d.EFILoaders[X86_64] == "" && d.EFILoaders[ARM64] == "" && w.BIOSLoader == "" {
		return Detection{}, false, nil
	}
	d.OwnEFILoader = len(d.EFILoaders) > 0
	return d, true, nil
}

// windowsLike says whether the scanned tree has a sources/boot.wim, so
// that other ISOs cost InspectWindows no reads.
func (t *tree) windowsLike() bool {
	for f := range t.files {
		if strings.EqualFold(f, "/sources/boot.wim") {
			return true
		}
	}
	return false
}

// IsWindows says whether fsys holds a Windows installer's layout; a tree
// that cannot be read is not one.
func IsWindows(fsys fs.FS) bool {
	_, ok, err := InspectWindows(fsys, "")
	return ok && err == nil
}

// findInstall finds the install image: install.wim, install.esd, or the
// parts install.swm, install2.swm, … (what Windows Setup reads).
func (w *WindowsLayout) findInstall(fsys fs.FS) (bool, error) {
	dir, _, err := findFold(fsys, "sources")
	if err != nil || dir == "" {
		return false, err
	}
	es, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return false, err
	}
	for _, kind := range []string{"wim", "esd", "swm"} {
		for _, e := range es {
			name := strings.ToLower(e.Name())
			if e.IsDir() || !isInstallName(name, kind) {
				continue
			}
			fi, err := e.Info()
			if err != nil {
				return false, err
			}
			w.InstallParts = append(w.InstallParts, "/"+path.Join(dir, e.Name()))
			w.InstallSize += fi.Size()
		}
		if len(w.InstallParts) > 0 {
			slices.SortFunc(w.InstallParts, func(a, b string) int { return partNumber(a) - partNumber(b) })
			w.InstallKind, w.InstallImage = kind, w.InstallParts[0]
			if kind != "swm" {
				w.InstallParts = nil
			}
			return true, nil
		}
	}
	return false, nil
}

// isInstallName matches install.<kind>, and install<N>.swm for parts.
func isInstallName(name, kind string) bool {
	base, ok := strings.CutSuffix(name, "."+kind)
	if !ok || !strings.HasPrefix(base, "install") {
		return false
	}
	n := base[len("install"):]
	return n == "" || kind == "swm" && strings.Trim(n, "0123456789") == "" && n[0] != '0'
}

// partNumber is an install<N>.swm part's N; install.swm is part 1.
func partNumber(p string) int {
	n := 0
	for _, c := range strings.TrimPrefix(strings.ToLower(path.Base(p)), "install") {
		if c < '0' || c > '9' || n > 1e6 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return max(n, 1)
}

// findFold finds p in fsys matching each name without case; "" when
// there is no such file.
func findFold(fsys fs.FS, p string) (string, fs.DirEntry, error) {
	dir, found := ".", fs.DirEntry(nil)
	for _, elem := range strings.Split(p, "/") {
		if found != nil && !found.IsDir() {
			return "", nil, nil
		}
		es, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return "", nil, fmt.Errorf("reading %s: %w", dir, err)
		}
		i := slices.IndexFunc(es, func(e fs.DirEntry) bool { return strings.EqualFold(e.Name(), elem) })
		if i < 0 {
			return "", nil, nil
		}
		found, dir = es[i], path.Join(dir, es[i].Name())
	}
	return dir, found, nil
}

// windowsLines are `compose inspect`'s lines for a Windows installer.
func (w *WindowsLayout) lines() []string {
	bios := w.BIOSLoader
	if bios == "" {
		bios = "none (UEFI only)"
	}
	out := []string{"BIOS loader: " + bios, "boot image: " + w.BootImage,
		fmt.Sprintf("install image: %s (%s, %s)", w.InstallImage, w.InstallKind, bytesize.Format(w.InstallSize))}
	if len(w.InstallParts) > 1 {
		out = append(out, fmt.Sprintf("install parts: %d (%s)", len(w.InstallParts), strings.Join(w.InstallParts, " ")))
	}
	for _, e := range w.Editions {
		s := fmt.Sprintf("edition %d: %s", e.Index, e.Name)
		if e.Arch != "" {
			s += " (" + e.Arch + ")"
		}
		out = append(out, s)
	}
	out = append(out, "stick: a FAT32 partition of its own holding the ISO's files (an install.wim over 4 GiB split into .swm parts); GRUB starts its own loaders there")
	return out
}

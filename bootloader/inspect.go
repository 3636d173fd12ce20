package bootloader

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// Family names how an ISO is booted from a loop device; spelled as the manifest's `boot:`.
type Family string

// Boot families.
const (
	Casper      Family = "casper"       // Ubuntu and derivatives: boot=casper iso-scan/filename=
	Live        Family = "live"         // Debian live-boot (Kali, GParted, Clonezilla): findiso=
	Dracut      Family = "dracut"       // dmsquash-live (Fedora, openSUSE kiwi): root=live:CDLABEL=
	Archiso     Family = "archiso"      // Arch, SystemRescue: img_dev= img_loop=
	LoopbackCfg Family = "loopback-cfg" // the ISO's own /boot/grub/loopback.cfg with iso_path
	EFI         Family = "efi"          // an EFI application inside the ISO (memtest86+, iPXE)
	Linux       Family = "linux"        // a kernel and initrd, no ISO-finding arguments

	Anaconda  Family = "anaconda"  // Red Hat installers (Fedora netinst/DVD, RHEL, Rocky, Alma, CentOS): inst.stage2=hd:LABEL= iso-scan/filename=
	Tails     Family = "tails"     // Tails: live-boot with Tails' own arguments
	AntiX     Family = "antix"     // antiX and MX live-init: fromiso=
	LinuxLive Family = "linuxlive" // Linux Live Kit (Porteus, Slax): from=
	Genkernel Family = "genkernel" // Gentoo minimal before 2024: isoboot=
	Miso      Family = "miso"      // Manjaro: misobasedir= misolabel= img_dev= img_loop=
	NixOS     Family = "nixos"     // NixOS: init= root=LABEL= findiso=
	Alpine    Family = "alpine"    // Alpine: boots, but its initramfs cannot loop-mount an ISO file
)

// Families lists every family in the order detection tries them.
var Families = []Family{LoopbackCfg, Tails, Casper, Live, NixOS, Anaconda, Dracut, Genkernel, Archiso, Miso,
	AntiX, LinuxLive, Alpine, EFI, Linux}

// Arch is a CPU architecture an ISO can boot on.
type Arch string

// Architectures.
const (
	X86_64 Arch = "x86_64"
	ARM64  Arch = "arm64"
	IA32   Arch = "ia32"
)

// ErrNoBootLayout is returned when no family matches an ISO; the message says what was found.
var ErrNoBootLayout = errors.New("no known boot layout")

// Detection is what Inspect learned about an ISO: enough to render its menu entry and for
// `compose inspect` to explain it.
type Detection struct {
	Family         Family          `json:"family"`
	Label          string          `json:"label,omitempty"`
	Kernel         string          `json:"kernel,omitempty"`
	Initrd         []string        `json:"initrd,omitempty"` // in load order (microcode first)
	Args           []string        `json:"args,omitempty"`   // family arguments; ${iso} = the ISO's path on the stick
	Arches         []Arch          `json:"architectures,omitempty"`
	OwnEFILoader   bool            `json:"own_efi_loader"`
	EFILoaders     map[Arch]string `json:"efi_loaders,omitempty"` // /EFI/BOOT/BOOT*.EFI by architecture
	EFIImage       string          `json:"efi_image,omitempty"`   // a FAT image holding EFI/BOOT/BOOTX64.EFI (iPXE)
	BIOSKernel     string          `json:"bios_kernel,omitempty"` // a linux16 payload for BIOS (iPXE's ipxe.krn)
	LoopbackCfg    string          `json:"loopback_cfg,omitempty"`
	ArchisoBaseDir string          `json:"archisobasedir,omitempty"` // archiso, and misobasedir for miso
	ArchisoLabel   string          `json:"archisolabel,omitempty"`
	// LiveMediaPath is the directory of the live root image when it is not the family's
	// usual one: Pop!_OS's /casper_<suffix>, grml's /live/<flavour>.
	LiveMediaPath string `json:"live_media_path,omitempty"`
	// LiveSquashImg is dracut's root image at the ISO's top (Gentoo 2024+: image.squashfs).
	LiveSquashImg string `json:"live_squashimg,omitempty"`
	// Init is NixOS' init= (the system's store path), read from the ISO's own boot config.
	Init string `json:"init,omitempty"`
	// LoopbackChain is the source/configfile chain followed from the ISO's loopback.cfg.
	LoopbackChain []string `json:"loopback_chain,omitempty"`
	// Warnings say why the entry may not find its ISO after the kernel starts, and the
	// override that fixes it. `compose plan` repeats them; --strict makes them errors.
	Warnings []string `json:"warnings,omitempty"`
	// Notes explain a choice that is not a problem (a loopback.cfg passed over).
	Notes []string `json:"notes,omitempty"`
}

// Overrides are the manifest's `boot:`, `kernel:`, `initrd:` and `args:`; set fields win over
// detection. Args only steers detection: an ISO's own loopback.cfg cannot take extra kernel
// arguments, so with Args compose boots the ISO with its own entry instead.
type Overrides struct {
	Family Family
	Kernel string
	Initrd []string
	Args   string
	// Persistent says the entry has persistence: like Args, it needs the family's own
	// kernel line, so an ISO's loopback.cfg is passed over for compose's own entry.
	Persistent bool
}

// Inspect decides how to boot the ISO whose file tree is fsys (read-only, e.g. go-diskfs
// iso9660) and whose volume label is volumeLabel. The ISO's own loopback.cfg is preferred.
// Kernel and initrd paths are found by scanning, not assumed per family.
func Inspect(fsys fs.FS, volumeLabel string) (Detection, error) {
	return Resolve(fsys, volumeLabel, Overrides{})
}

// Resolve is Inspect with the manifest's overrides applied.
func Resolve(fsys fs.FS, volumeLabel string, ov Overrides) (Detection, error) {
	t, err := scanTree(fsys)
	if errors.Is(err, ErrMalformedTree) {
		return Detection{}, err // says where in the ISO
	}
	if err != nil {
		return Detection{}, fmt.Errorf("inspecting iso: %w", err)
	}
	d := Detection{Label: strings.TrimSpace(volumeLabel), EFILoaders: t.efiLoaders, EFIImage: t.efiImage, BIOSKernel: t.biosKernel}
	d.OwnEFILoader = len(t.efiLoaders) > 0 || t.efiImage != ""
	fam := ov.Family
	if fam != "" && !slices.Contains(Families, fam) {
		return Detection{}, fmt.Errorf("boot: %q is not a boot family (want one of %s)", fam, familyList())
	}
	if fam == "" {
		fam = t.detectFamily(&d, ov)
	}
	if fam == "" && ov.Kernel != "" {
		fam = Linux
	}
	if fam == "" {
		return Detection{}, t.noLayoutError()
	}
	d.Family = fam
	if err := t.fill(&d, ov); err != nil {
		return Detection{}, err
	}
	d.Arches = t.arches(d)
	d.Args = argStrings(familyArgs(d, "${iso}"))
	d.Warnings = append(d.Warnings, deadEntryWarnings(d, ov)...)
	return d, nil
}

func familyList() string {
	s := make([]string, len(Families))
	for i, f := range Families {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// fill picks the kernel and initrds for the family, then applies path overrides.
func (t *tree) fill(d *Detection, ov Overrides) error {
	switch d.Family {
	case LoopbackCfg:
		if !t.files[loopbackCfgPath] {
			return fmt.Errorf("boot: loopback-cfg, but the iso has no %s", loopbackCfgPath)
		}
		c := t.loopbackChain()
		d.LoopbackCfg, d.LoopbackChain = loopbackCfgPath, c.files
		if c.problem != "" {
			return fmt.Errorf("boot: loopback-cfg, but %s; leave boot: out to let compose boot it its own way", c.problem)
		}
		d.Kernel, d.Initrd = c.kernel, c.initrds
		return nil
	case EFI:
		if !d.OwnEFILoader {
			return fmt.Errorf("boot: efi, but the iso has no /EFI/BOOT/BOOT*.EFI and no efi.img")
		}
	}
	if k, ok := t.pick(d.Family); ok {
		d.Kernel, d.Initrd = k.path, k.initrds
	}
	t.familyDetails(d)
	if ov.Kernel != "" {
		p := cleanISOPath(ov.Kernel)
		if !t.files[p] {
			return fmt.Errorf("kernel: %s not found in the iso (kernels found: %s)", p, t.kernelList())
		}
		d.Kernel, d.Initrd = p, nil
		if k, ok := t.pairFor(p); ok {
			d.Initrd = k.initrds
		}
	}
	if ov.Initrd != nil {
		d.Initrd = nil
		for _, i := range ov.Initrd {
			p := cleanISOPath(i)
			if !t.files[p] {
				return fmt.Errorf("initrd: %s not found in the iso", p)
			}
			d.Initrd = append(d.Initrd, p)
		}
	}
	if d.Family == Archiso {
		d.ArchisoBaseDir = archisoBase(d.Kernel)
		d.ArchisoLabel = d.Label
	}
	if d.Family == Miso {
		d.ArchisoBaseDir = t.misoBase()
		d.ArchisoLabel = d.Label
	}
	needsKernel := d.Family != LoopbackCfg && d.Family != EFI
	if needsKernel && d.Kernel == "" {
		return fmt.Errorf("boot: %s needs a kernel; none found (set kernel: and initrd:)", d.Family)
	}
	return nil
}

func cleanISOPath(p string) string { return path.Clean("/" + strings.TrimSpace(p)) }

// archisoBase is the directory above boot/ in /<base>/boot/<arch>/vmlinuz-*.
func archisoBase(kernel string) string {
	parts := strings.Split(strings.TrimPrefix(kernel, "/"), "/")
	for i := 1; i < len(parts); i++ {
		if parts[i] == "boot" {
			return parts[i-1]
		}
	}
	return ""
}

func (t *tree) noLayoutError() error {
	hint := ""
	if t.isWindows() {
		hint = "; this looks like a Windows installer, which cannot boot from a loop device"
	}
	return fmt.Errorf("%w: top level has %s; kernels: %s; EFI loaders: %s%s; set boot: (%s), and kernel: and initrd: paths inside the iso",
		ErrNoBootLayout, orNone(t.topLevel()), orNone(t.kernelList()), orNone(t.loaderList()), hint, familyList())
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Lines renders a Detection as "key: value" lines for `compose inspect` without --json.
func (d Detection) Lines() []string {
	var out []string
	add := func(k, v string) {
		if v != "" {
			out = append(out, k+": "+v)
		}
	}
	add("family", string(d.Family))
	add("label", d.Label)
	add("kernel", d.Kernel)
	add("initrd", strings.Join(d.Initrd, " "))
	add("arguments", strings.Join(d.Args, " "))
	var arches []string
	for _, a := range d.Arches {
		arches = append(arches, string(a))
	}
	add("architectures", orUnknown(strings.Join(arches, " ")))
	own := "no"
	if d.OwnEFILoader {
		own = "yes"
	}
	add("own EFI loader", own)
	for _, a := range []Arch{X86_64, ARM64, IA32} {
		add("EFI loader "+string(a), d.EFILoaders[a])
	}
	add("EFI image", d.EFIImage)
	add("BIOS kernel", d.BIOSKernel)
	add("loopback.cfg", d.LoopbackCfg)
	add("loopback.cfg chain", strings.Join(d.LoopbackChain, " → "))
	add("archisobasedir", d.ArchisoBaseDir)
	add("archisolabel", d.ArchisoLabel)
	add("live-media-path", d.LiveMediaPath)
	add("squashfs image", d.LiveSquashImg)
	add("init", d.Init)
	for _, n := range d.Notes {
		add("note", n)
	}
	for _, w := range d.Warnings {
		add("warning", w)
	}
	return out
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

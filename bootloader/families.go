package bootloader

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"strings"
)

// Facts behind the families below come from the distros' own boot configs and build tools
// and the per-distro configs of peer tools (glim, grub2-filemanager); see the README table.

// kernelFamilies are the families detection tries, in order, before EFI payloads and a
// plain kernel. More specific layouts come first: Tails is live-boot, Gentoo's dracut
// image has no /LiveOS.
var kernelFamilies = []Family{Tails, Casper, Live, NixOS, Anaconda, Dracut, Genkernel, Archiso, Miso,
	AntiX, LinuxLive, Alpine}

// under matches paths below the lower-case directory prefix d, whatever their case.
func under(d string) func(string) bool {
	return func(p string) bool { return strings.HasPrefix(strings.ToLower(p), d) }
}

// familyKernelDirs says where a family keeps its kernel, or nil when the ISO does not have
// the family's marks.
func (t *tree) familyKernelDirs(f Family) []func(string) bool {
	switch f {
	case Tails:
		if t.files["/live/Tails.module"] {
			return []func(string) bool{under("/live/")}
		}
	case Anaconda: // lorax: /images/install.img (stage2), /.treeinfo; no live root
		if !t.hasDir("/LiveOS") && (t.files["/images/install.img"] || t.files["/.treeinfo"] || t.files["/.discinfo"]) {
			return []func(string) bool{under("/images/pxeboot/"), under("/isolinux/")}
		}
	case Genkernel: // catalyst/genkernel: /isolinux/gentoo + gentoo.igz, /image.squashfs
		if t.files["/image.squashfs"] && !t.isGentooDracut() {
			return []func(string) bool{under("/isolinux/"), under("/boot/")}
		}
	case Miso:
		if b := t.misoBase(); b != "" {
			return []func(string) bool{under("/" + strings.ToLower(b) + "/boot/"), under("/boot/")}
		}
	case AntiX: // antiX and MX: /antiX/vmlinuz, initrd.gz, linuxfs
		if t.files["/antiX/linuxfs"] {
			return []func(string) bool{under("/antix/")}
		}
	case LinuxLive: // Porteus: /boot/syslinux/vmlinuz + /porteus/; Slax: /slax/boot/
		if t.hasDir("/porteus") || t.hasDir("/slax") {
			return []func(string) bool{under("/slax/boot/"), under("/boot/syslinux/"), under("/boot/")}
		}
	case Alpine: // mkimage: /boot/vmlinuz-<flavour>, initramfs-<flavour>, modloop-<flavour>, /apks
		if t.hasDir("/apks") {
			return []func(string) bool{under("/boot/")}
		}
	}
	return nil
}

// isGentooDracut: Gentoo's minimal ISO since 2024 boots dracut with the squashfs at the
// ISO's top (rd.live.dir=/ rd.live.squashimg=image.squashfs); before, genkernel did with
// the kernel in /isolinux. The ISO's own grub.cfg says which when it can.
func (t *tree) isGentooDracut() bool {
	if !t.files["/image.squashfs"] {
		return false
	}
	cfg := t.readSmall("/boot/grub/grub.cfg")
	switch {
	case bytes.Contains(cfg, []byte("rd.live")):
		return true
	case bytes.Contains(cfg, []byte("cdroot")):
		return false
	}
	return t.files["/boot/gentoo"] && !t.files["/isolinux/gentoo"]
}

// isGrmlKernel: grml keeps its kernel in /boot/<flavour>/ and its live-boot root in
// /live/<flavour>/, so live-boot needs live-media-path.
func (t *tree) isGrmlKernel(p string) bool {
	return strings.HasPrefix(p, "/boot/grml") && t.grmlMediaPath(p) != ""
}

func (t *tree) grmlMediaPath(kernel string) string {
	flavour := strings.ReplaceAll(path.Base(path.Dir(kernel)), "-", "")
	var first string
	for dir, names := range t.dirs {
		if path.Dir(dir) != "/live" || !slices.ContainsFunc(names, func(n string) bool { return strings.HasSuffix(n, ".squashfs") }) {
			continue
		}
		if strings.ReplaceAll(path.Base(dir), "-", "") == flavour {
			return dir
		}
		if first == "" || dir < first {
			first = dir
		}
	}
	return first
}

// misoBase is Manjaro's misobasedir: the directory holding <arch>/rootfs.sfs (or
// desktopfs.sfs).
func (t *tree) misoBase() string {
	for f := range t.files {
		parts := strings.Split(strings.TrimPrefix(f, "/"), "/")
		if len(parts) == 3 && (parts[2] == "rootfs.sfs" || parts[2] == "desktopfs.sfs") && parts[1] == "x86_64" {
			return parts[0]
		}
	}
	return ""
}

// pickNixOS: the ISO holds /nix-store.squashfs; kernel and initrd sit in separate store
// directories under /boot (/boot/<hash>-linux-<v>/bzImage, /boot/<hash>-initrd-linux-<v>/initrd),
// or directly in /boot in older images.
func (t *tree) pickNixOS() (kernelPair, bool) {
	if !t.files["/nix-store.squashfs"] {
		return kernelPair{}, false
	}
	var kernel, initrd string
	for f := range t.files {
		if !strings.HasPrefix(f, "/boot/") {
			continue
		}
		switch path.Base(f) {
		case "bzImage", "Image":
			if kernel == "" || f < kernel {
				kernel = f
			}
		case "initrd":
			if initrd == "" || f < initrd {
				initrd = f
			}
		}
	}
	if kernel == "" || initrd == "" {
		return kernelPair{}, false
	}
	return kernelPair{kernel, []string{initrd}}, true
}

var nixInitRe = regexp.MustCompile(`init=(/nix/store/[^\s'"]+/init)`)

// nixosInit reads init= from the ISO's own boot configs: the system's store path
// changes with every build and stage 1 needs it.
func (t *tree) nixosInit() string {
	for _, p := range []string{"/EFI/boot/grub.cfg", "/EFI/BOOT/grub.cfg", "/boot/grub/grub.cfg", "/isolinux/isolinux.cfg"} {
		if m := nixInitRe.FindSubmatch(t.readSmall(p)); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// familyDetails fills what a family's arguments need beyond kernel and initrd.
func (t *tree) familyDetails(d *Detection) {
	switch d.Family {
	case Casper:
		if dir := path.Dir(d.Kernel); d.Kernel != "" && dir != "/casper" && strings.HasPrefix(dir, "/casper") {
			d.LiveMediaPath = dir
		}
	case Live:
		if d.Kernel != "" && !strings.HasPrefix(d.Kernel, "/live/") {
			d.LiveMediaPath = t.grmlMediaPath(d.Kernel)
		}
	case Dracut:
		if !t.hasDir("/LiveOS") && t.files["/image.squashfs"] {
			d.LiveSquashImg = "image.squashfs"
		}
	case NixOS:
		d.Init = t.nixosInit()
	}
}

// biosImage finds a Linux-boot-protocol image an EFI-payload ISO carries for BIOS
// (memtest86+'s /boot/floppy.img and memtest.bin start with the x86 boot header), which
// GRUB starts with linux16.
func (t *tree) biosImage() string {
	for _, p := range []string{"/boot/floppy.img", "/boot/memtest.bin", "/boot/memtest86+.bin", "/memtest.bin"} {
		if !t.files[p] {
			continue
		}
		h := t.readHead(p, 0x210)
		if len(h) >= 0x206 && h[0x1fe] == 0x55 && h[0x1ff] == 0xaa && string(h[0x202:0x206]) == "HdrS" {
			return p
		}
	}
	return ""
}

const maxConfigRead = 1 << 20 // boot configs are a few KiB; a larger one is not read past this

// readSmall reads a boot config from the ISO, at most maxConfigRead bytes; nil if absent.
func (t *tree) readSmall(p string) []byte {
	return t.readHead(p, maxConfigRead)
}

func (t *tree) readHead(p string, n int64) []byte {
	if !t.files[p] {
		return nil
	}
	f, err := t.fsys.Open(strings.TrimPrefix(p, "/"))
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, n))
	return b
}

// dracutLabel writes a volume label the way udev names it under /dev/disk/by-label, which
// is what dracut's hd:LABEL= and root=LABEL= look up: bytes other than letters, digits and
// #+-.:=@_ become \xNN (a space is \x20).
func dracutLabel(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("#+-.:=@_", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

// deadEntryWarnings: entries that start a kernel whose initramfs will not find the ISO.
func deadEntryWarnings(d Detection, ov Overrides) []string {
	given := strings.TrimSpace(ov.Args) != ""
	var w []string
	switch {
	case d.Family == Linux && !given:
		w = append(w, fmt.Sprintf("boots the plain kernel %s: nothing on its command line tells its initramfs where the ISO is, so it will likely stop looking for its root; set boot: to the ISO's family (%s) or pass the initramfs' own argument with args:",
			d.Kernel, familyList()))
	case d.Family == Alpine && !given:
		w = append(w, "Alpine's initramfs cannot loop-mount an ISO file: the kernel starts, but without the ISO's modloop and /apks (no kernel modules, no packages); pass args: modloop=<URL> alpine_repo=<URL> to fetch them over the network, or write this ISO to a stick of its own")
	case d.Family == NixOS && d.Init == "":
		w = append(w, "NixOS needs init=/nix/store/…/init from the ISO's own boot config, and none was found in it; pass it with args:")
	case d.Family == Anaconda && d.Label == "":
		w = append(w, "the ISO has no volume label, so inst.stage2=hd:LABEL= cannot name it; pass inst.stage2= with args:")
	}
	return w
}

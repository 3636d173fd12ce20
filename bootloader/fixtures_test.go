package bootloader

import (
	"encoding/binary"
	"testing"
	"testing/fstest"
)

// Fixture ISO trees with the directory layouts of real releases (from the distros' own
// trees, u-root's pkg/boot testdata and glim's inc-*.cfg). Kernels carry a real header
// so architecture detection reads them; everything else is a placeholder.

func bzImage() []byte { // x86 boot protocol header, 64-bit kernel (XLF_KERNEL_64)
	b := make([]byte, 0x400)
	copy(b[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(b[0x236:], 1)
	return b
}

func arm64Image() []byte { // arm64 Image header magic
	b := make([]byte, 0x400)
	copy(b[0x38:], "ARM\x64")
	return b
}

type fixture struct {
	name, label string
	files       map[string][]byte
}

func (f fixture) fs() fstest.MapFS {
	m := fstest.MapFS{}
	for p, d := range f.files {
		if d == nil {
			d = []byte("x")
		}
		m[p[1:]] = &fstest.MapFile{Data: d}
	}
	return m
}

// entriesOf inspects each fixture and makes its menu entry, as compose
// would for the ISO at /isos/<name>.iso.
func entriesOf(t *testing.T, fs []fixture) []Entry {
	t.Helper()
	var entries []Entry
	for _, f := range fs {
		d, err := Inspect(f.fs(), f.label)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		entries = append(entries, Entry{ID: f.name, Title: f.label, ISOPath: "/isos/" + f.name + ".iso", Boot: d})
	}
	return entries
}

func fixtures() []fixture {
	k, a := bzImage(), arm64Image()
	return []fixture{
		{"ubuntu-22.04-desktop", "Ubuntu 22.04.4 LTS amd64", map[string][]byte{
			"/casper/vmlinuz": k, "/casper/initrd": nil, "/casper/filesystem.squashfs": nil,
			"/boot/grub/loopback.cfg": []byte(ubuntuLoopbackCfg), "/boot/grub/grub.cfg": nil, "/EFI/boot/bootx64.efi": nil,
			"/EFI/boot/grubx64.efi": nil, "/EFI/boot/mmx64.efi": nil, "/.disk/info": nil,
			"/pool/main/g/grub2/grub-efi-amd64-signed.deb": nil, "/dists/jammy/Release": nil}},
		{"linuxmint-17", "Linux Mint 17 Cinnamon 64-bit", map[string][]byte{
			"/casper/vmlinuz": k, "/casper/initrd.lz": nil, "/casper/filesystem.squashfs": nil,
			"/isolinux/isolinux.bin": nil, "/isolinux/isolinux.cfg": nil, "/EFI/BOOT/BOOTx64.EFI": nil}},
		{"ubuntu-24.04-server-arm64", "Ubuntu-Server 24.04 LTS arm64", map[string][]byte{
			"/casper/vmlinuz": a, "/casper/initrd": nil, "/casper/hwe-vmlinuz": a, "/casper/hwe-initrd": nil,
			"/casper/ubuntu-server-minimal.squashfs": nil, "/EFI/boot/bootaa64.efi": nil, "/EFI/boot/grubaa64.efi": nil,
			"/boot/grub/grub.cfg": nil}},
		{"debian-live-12", "d-live 12.5.0 gn amd64", map[string][]byte{
			"/live/vmlinuz-6.1.0-18-amd64": k, "/live/initrd.img-6.1.0-18-amd64": nil, "/live/filesystem.squashfs": nil,
			"/install/vmlinuz": k, "/install/initrd.gz": nil, "/install/gtk/vmlinuz": k, "/install/gtk/initrd.gz": nil,
			"/isolinux/isolinux.bin": nil, "/boot/grub/grub.cfg": nil, "/EFI/boot/bootx64.efi": nil, "/EFI/boot/grubx64.efi": nil}},
		{"kali-2024.1-live", "Kali Live", map[string][]byte{
			"/live/vmlinuz": k, "/live/initrd.img": nil, "/live/filesystem.squashfs": nil,
			"/install/gtk/vmlinuz": k, "/install/gtk/initrd.gz": nil, "/EFI/boot/bootx64.efi": nil, "/boot/grub/grub.cfg": nil}},
		{"gparted-live-1.6", "GParted-live", map[string][]byte{
			"/live/vmlinuz": k, "/live/initrd.img": nil, "/live/filesystem.squashfs": nil, "/live/memtest": nil,
			"/EFI/boot/bootx64.efi": nil, "/EFI/boot/grubx64.efi": nil, "/boot/grub/grub.cfg": nil, "/syslinux/isolinux.bin": nil}},
		{"fedora-39-workstation", "Fedora-WS-Live-39-1-5", map[string][]byte{
			"/images/pxeboot/vmlinuz": k, "/images/pxeboot/initrd.img": nil, "/images/efiboot.img": nil,
			"/LiveOS/squashfs.img": nil, "/EFI/BOOT/BOOTX64.EFI": nil, "/EFI/BOOT/grubx64.efi": nil, "/EFI/BOOT/mmx64.efi": nil,
			"/boot/grub2/grub.cfg": nil, "/boot/grub2/i386-pc/eltorito.img": nil}},
		{"fedora-37-workstation", "Fedora-WS-Live-37-1-7", map[string][]byte{
			"/isolinux/vmlinuz": k, "/isolinux/initrd.img": nil, "/isolinux/isolinux.bin": nil, "/isolinux/memtest": nil,
			"/LiveOS/squashfs.img": nil, "/images/efiboot.img": nil, "/EFI/BOOT/BOOTX64.EFI": nil, "/EFI/BOOT/BOOTIA32.EFI": nil}},
		{"opensuse-tumbleweed-live", "openSUSE_Tumbleweed_KDE_Live", map[string][]byte{
			"/boot/x86_64/loader/linux": k, "/boot/x86_64/loader/initrd": nil, "/boot/x86_64/loader/isolinux.bin": nil,
			"/boot/x86_64/efi": nil, "/LiveOS/squashfs.img": nil, "/EFI/BOOT/bootx64.efi": nil, "/EFI/BOOT/grub.efi": nil}},
		{"archlinux-2024.01.01", "ARCH_202401", map[string][]byte{
			"/arch/boot/x86_64/vmlinuz-linux": k, "/arch/boot/x86_64/initramfs-linux.img": nil,
			"/arch/boot/intel-ucode.img": nil, "/arch/boot/amd-ucode.img": nil, "/arch/boot/memtest86+/memtest.efi": nil,
			"/arch/x86_64/airootfs.sfs": nil, "/arch/x86_64/airootfs.sha512": nil, "/arch/version": nil,
			"/EFI/BOOT/BOOTx64.EFI": nil, "/EFI/BOOT/BOOTIA32.EFI": nil, "/loader/loader.conf": nil,
			"/loader/entries/01-archiso-x86_64-linux.conf": nil, "/boot/syslinux/syslinux.cfg": nil}},
		{"systemrescue-11.00", "RESCUE1100", map[string][]byte{
			"/sysresccd/boot/x86_64/vmlinuz": k, "/sysresccd/boot/x86_64/sysresccd.img": nil,
			"/sysresccd/boot/intel_ucode.img": nil, "/sysresccd/boot/amd_ucode.img": nil,
			"/sysresccd/x86_64/airootfs.sfs": nil, "/sysresccd/VERSION": nil, "/EFI/boot/bootx64.efi": nil,
			"/boot/grub/grubsrcd.cfg": []byte(sysrescdCfg), "/boot/grub/loopback.cfg": []byte(sysrescdLoopbackCfg), "/sysresccd/boot/syslinux/sysresccd_sys.cfg": nil}},
		{"grml64-full-2024.02", "grml64-full 2024.02", map[string][]byte{
			"/boot/grub/loopback.cfg": []byte(grmlLoopbackCfg), "/boot/grub/grub.cfg": nil, "/boot/grml64full/vmlinuz": k,
			"/boot/grml64full/initrd.img": nil, "/live/grml64-full/grml64-full.squashfs": nil, "/EFI/BOOT/bootx64.efi": nil,
			"/conf/bootid.txt": nil}},
		{"memtest86plus-6.10", "MT86PLUS_64", map[string][]byte{
			"/EFI/BOOT/bootx64.efi": nil, "/boot/floppy.img": memtestFloppy(), "/boot.catalog": nil}},
		{"ipxe", "iPXE", map[string][]byte{
			"/efi.img": nil, "/ipxe.krn": nil, "/isolinux.bin": nil, "/isolinux.cfg": nil, "/ldlinux.c32": nil, "/boot.cat": nil}},
		{"debian-12-netinst", "Debian 12.5.0 amd64 n", map[string][]byte{
			"/install.amd/vmlinuz": k, "/install.amd/initrd.gz": nil, "/install.amd/gtk/vmlinuz": k,
			"/install.amd/gtk/initrd.gz": nil, "/install.amd/xen/vmlinuz": k, "/install.amd/xen/initrd.gz": nil,
			"/EFI/boot/bootx64.efi": nil, "/EFI/boot/grubx64.efi": nil, "/isolinux/isolinux.bin": nil,
			"/pool/main/l/linux/linux-image.deb": nil, "/dists/bookworm/Release": nil, "/.disk/info": nil}},
		{"alpine-3.19-standard", "alpine-std 3.19.1 x86_64", map[string][]byte{
			"/boot/vmlinuz-lts": k, "/boot/initramfs-lts": nil, "/boot/modloop-lts": nil, "/boot/config-6.6.14-0-lts": nil,
			"/apks/x86_64/APKINDEX.tar.gz": nil, "/efi/boot/bootx64.efi": nil, "/boot/grub/grub.cfg": nil}},
	}
}

// The loopback.cfg files of the fixtures, cut down to what compose reads: the chain of
// sourced files and the first entry's kernel and initrd.
const (
	ubuntuLoopbackCfg = `menuentry "Try or Install Ubuntu" {
	set gfxpayload=keep
	linux	/casper/vmlinuz  iso-scan/filename=${iso_path} quiet splash ---
	initrd	/casper/initrd
}
`
	sysrescdLoopbackCfg = `# SystemRescue loopback-mount GRUB config file
if [ -z "$iso_path" ]; then
	echo "Warning: 'iso_path' is not set."
else
	archiso_param="img_loop=$iso_path"
fi
source /boot/grub/grubsrcd.cfg
`
	sysrescdCfg = `menuentry "Boot SystemRescue using default options" {
	linux /sysresccd/boot/x86_64/vmlinuz archisobasedir=sysresccd archisolabel=RESCUE1100 ${archiso_param}
	initrd /sysresccd/boot/intel_ucode.img /sysresccd/boot/amd_ucode.img /sysresccd/boot/x86_64/sysresccd.img
}
`
	// grml since 2024 reads its menu from ${prefix}: under compose that is compose's own menu.
	grmlLoopbackCfg = `set pager=1
source "${prefix}/grub.cfg"
`
)

// memtestFloppy: memtest86+'s /boot/floppy.img starts with the x86 boot header
// (boot flag 55AA, "HdrS" 2.12), so GRUB's linux16 starts it on BIOS.
func memtestFloppy() []byte {
	b := bzImage()
	b[0x1fe], b[0x1ff] = 0x55, 0xaa
	binary.LittleEndian.PutUint16(b[0x206:], 0x020c)
	return b
}

// unbootable fixtures: Inspect must fail with what it found and how to override.
func badFixtures() []fixture {
	return []fixture{
		// windows.go detects a whole Windows installer; one without
		// sources/boot.wim is no installer compose knows.
		{"windows-11", "CCCOMA_X64FRE_EN-US_DV9", map[string][]byte{
			"/bootmgr": nil, "/bootmgr.efi": nil, "/efi/boot/bootx64.efi": nil, "/sources/install.wim": nil}},
		{"data-only", "DATA", map[string][]byte{"/README.txt": nil, "/docs/manual.pdf": nil}},
	}
}

// familyFixtures: the layouts of the families added for issue 14, from the releases' own
// trees (file lists of the published ISOs, their boot configs, and peer tools' per-distro
// configs). Boot-config contents are cut to the lines compose reads.
func familyFixtures() []fixture {
	k := bzImage()
	return []fixture{
		{"fedora-39-server-dvd", "Fedora-S-dvd-x86_64-39", map[string][]byte{
			"/images/pxeboot/vmlinuz": k, "/images/pxeboot/initrd.img": nil, "/images/install.img": nil,
			"/images/efiboot.img": nil, "/.treeinfo": nil, "/.discinfo": nil, "/EFI/BOOT/BOOTX64.EFI": nil,
			"/EFI/BOOT/grubx64.efi": nil, "/EFI/BOOT/mmx64.efi": nil, "/boot/grub2/grub.cfg": nil,
			"/boot/grub2/i386-pc/eltorito.img": nil, "/Packages/a/acl-2.3.1-8.fc39.x86_64.rpm": nil, "/repodata/repomd.xml": nil}},
		{"rocky-9.3-dvd", "Rocky-9-3-x86_64-dvd", map[string][]byte{
			"/isolinux/vmlinuz": k, "/isolinux/initrd.img": nil, "/isolinux/isolinux.bin": nil, "/isolinux/isolinux.cfg": nil,
			"/images/install.img": nil, "/images/pxeboot/vmlinuz": k, "/images/pxeboot/initrd.img": nil, "/images/efiboot.img": nil,
			"/BaseOS/repodata/repomd.xml": nil, "/AppStream/repodata/repomd.xml": nil, "/.treeinfo": nil, "/.discinfo": nil,
			"/EFI/BOOT/BOOTX64.EFI": nil, "/EFI/BOOT/grubx64.efi": nil, "/EFI/BOOT/grub.cfg": nil}},
		{"tails-6.0", "TAILS 6.0 - 20240227", map[string][]byte{
			"/live/vmlinuz": k, "/live/initrd.img": nil, "/live/filesystem.squashfs": nil, "/live/Tails.module": nil,
			"/EFI/BOOT/bootx64.efi": nil, "/EFI/debian/grub.cfg": nil, "/isolinux/isolinux.bin": nil, "/utils/linux/syslinux": nil}},
		{"antix-23-full", "antiX-23_x64-full", map[string][]byte{
			"/antiX/vmlinuz": k, "/antiX/initrd.gz": nil, "/antiX/linuxfs": nil, "/antiX/linuxfs.md5": nil,
			"/boot/grub/grub.cfg": nil, "/boot/isolinux/isolinux.bin": nil, "/EFI/BOOT/bootx64.efi": nil, "/version": nil}},
		{"mx-23-xfce", "MX-Live-x64", map[string][]byte{
			"/antiX/vmlinuz": k, "/antiX/initrd.gz": nil, "/antiX/linuxfs": nil, "/boot/grub/grub.cfg": nil,
			"/boot/isolinux/isolinux.bin": nil, "/EFI/BOOT/bootx64.efi": nil, "/EFI/BOOT/grubx64.efi": nil}},
		{"porteus-5.0", "Porteus", map[string][]byte{
			"/boot/syslinux/vmlinuz": k, "/boot/syslinux/initrd.xz": nil, "/boot/syslinux/isolinux.bin": nil,
			"/boot/syslinux/porteus.cfg": nil, "/porteus/base/000-kernel.xzm": nil, "/porteus/porteus-v5.0-x86_64.sgn": nil,
			"/EFI/BOOT/bootx64.efi": nil}},
		{"slax-15", "SLAX", map[string][]byte{
			"/slax/boot/vmlinuz": k, "/slax/boot/initrfs.img": nil, "/slax/boot/isolinux.bin": nil, "/slax/01-core.sb": nil,
			"/EFI/Boot/bootx64.efi": nil}},
		{"gentoo-minimal-2024", "ISOIMAGE", map[string][]byte{
			"/boot/gentoo": k, "/boot/gentoo.igz": nil, "/image.squashfs": nil, "/livecd": nil, "/GENTOO": nil,
			"/boot/grub/grub.cfg":   []byte("menuentry 'Boot LiveCD (kernel: gentoo)' {\n\tlinux /boot/gentoo root=live:CDLABEL=ISOIMAGE rd.live.dir=/ rd.live.squashimg=image.squashfs cdroot\n\tinitrd /boot/gentoo.igz\n}\n"),
			"/EFI/BOOT/BOOTX64.EFI": nil}},
		{"gentoo-minimal-2023", "Gentoo_amd64_20230101", map[string][]byte{
			"/isolinux/gentoo": k, "/isolinux/gentoo.igz": nil, "/isolinux/isolinux.bin": nil, "/image.squashfs": nil, "/livecd": nil,
			"/boot/grub/grub.cfg": []byte("menuentry 'Boot LiveCD (kernel: gentoo)' {\n\tlinux /boot/gentoo root=/dev/ram0 init=/linuxrc dokeymap looptype=squashfs loop=/image.squashfs cdroot\n\tinitrd /boot/gentoo.igz\n}\n"),
			"/boot/gentoo":        k, "/boot/gentoo.igz": nil, "/EFI/BOOT/BOOTX64.EFI": nil}},
		{"manjaro-kde-23.1", "MANJARO_KDE_2310", map[string][]byte{
			"/boot/vmlinuz-x86_64": k, "/boot/initramfs-x86_64.img": nil, "/boot/intel_ucode.img": nil, "/boot/amd_ucode.img": nil,
			"/manjaro/x86_64/rootfs.sfs": nil, "/manjaro/x86_64/desktopfs.sfs": nil, "/manjaro/x86_64/mhwdfs.sfs": nil,
			"/manjaro/x86_64/livefs.sfs": nil, "/EFI/boot/bootx64.efi": nil, "/boot/grub/grub.cfg": nil, "/.miso": nil}},
		{"nixos-24.05-minimal", "nixos-minimal-24.05-x86_64", map[string][]byte{
			"/boot/0lk9b6mxv3z0yhmvp2l5ffzm6xshj6ca-linux-6.6.32/bzImage":              k,
			"/boot/8a1w3p6bx8jkdwhrr7dh3q6y0ym1x5ff-initrd-linux-6.6.32-initrd/initrd": nil,
			"/nix-store.squashfs": nil, "/version.txt": nil, "/EFI/boot/bootx64.efi": nil, "/isolinux/isolinux.bin": nil,
			"/EFI/boot/grub.cfg": []byte("menuentry 'NixOS 24.05 Installer' {\n  linux /boot/0lk9b6mxv3z0yhmvp2l5ffzm6xshj6ca-linux-6.6.32/bzImage ${isoboot} init=/nix/store/v6b1gk7jz4yxkvb2nxmj4x3m6d8s0qaw-nixos-system-nixos-24.05.1234/init root=LABEL=nixos-minimal-24.05-x86_64 boot.shell_on_fail\n  initrd /boot/8a1w3p6bx8jkdwhrr7dh3q6y0ym1x5ff-initrd-linux-6.6.32-initrd/initrd\n}\n")}},
		{"pop-os-22.04", "Pop_OS 22.04 amd64 Intel", map[string][]byte{
			"/casper_pop-os_22.04_amd64_intel_debug_286/vmlinuz.efi": k, "/casper_pop-os_22.04_amd64_intel_debug_286/initrd.gz": nil,
			"/casper_pop-os_22.04_amd64_intel_debug_286/filesystem.squashfs": nil, "/EFI/boot/bootx64.efi": nil,
			"/boot/grub/grub.cfg": nil, "/.disk/info": nil, "/pool/main/p/pop.deb": nil}},
		{"ipxe-upstream", "iPXE", map[string][]byte{
			"/ipxe.lkrn": nil, "/esp.img": nil, "/isolinux.bin": nil, "/isolinux.cfg": nil, "/ldlinux.c32": nil, "/boot.cat": nil}},
	}
}

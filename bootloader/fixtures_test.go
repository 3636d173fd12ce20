package bootloader

import (
	"encoding/binary"
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

func fixtures() []fixture {
	k, a := bzImage(), arm64Image()
	return []fixture{
		{"ubuntu-22.04-desktop", "Ubuntu 22.04.4 LTS amd64", map[string][]byte{
			"/casper/vmlinuz": k, "/casper/initrd": nil, "/casper/filesystem.squashfs": nil,
			"/boot/grub/loopback.cfg": nil, "/boot/grub/grub.cfg": nil, "/EFI/boot/bootx64.efi": nil,
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
			"/boot/grub/grubsrcd.cfg": nil, "/boot/grub/loopback.cfg": nil, "/sysresccd/boot/syslinux/sysresccd_sys.cfg": nil}},
		{"grml64-full-2024.02", "grml64-full 2024.02", map[string][]byte{
			"/boot/grub/loopback.cfg": nil, "/boot/grub/grub.cfg": nil, "/boot/grml64full/vmlinuz": k,
			"/boot/grml64full/initrd.img": nil, "/live/grml64-full/grml64-full.squashfs": nil, "/EFI/BOOT/bootx64.efi": nil}},
		{"memtest86plus-6.10", "MT86PLUS_64", map[string][]byte{
			"/EFI/BOOT/bootx64.efi": nil, "/boot/floppy.img": nil, "/boot.catalog": nil}},
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

// unbootable fixtures: Inspect must fail with what it found and how to override.
func badFixtures() []fixture {
	return []fixture{
		{"windows-11", "CCCOMA_X64FRE_EN-US_DV9", map[string][]byte{
			"/bootmgr": nil, "/bootmgr.efi": nil, "/efi/boot/bootx64.efi": nil, "/sources/install.wim": nil, "/sources/boot.wim": nil}},
		{"data-only", "DATA", map[string][]byte{"/README.txt": nil, "/docs/manual.pdf": nil}},
	}
}

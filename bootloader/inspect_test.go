package bootloader

import (
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

type want struct {
	family Family
	kernel string
	initrd []string
	arches []Arch
	extra  func(t *testing.T, d Detection)
}

var expectations = map[string]want{
	"ubuntu-22.04-desktop":      {LoopbackCfg, "/casper/vmlinuz", []string{"/casper/initrd"}, []Arch{X86_64}, nil},
	"linuxmint-17":              {Casper, "/casper/vmlinuz", []string{"/casper/initrd.lz"}, []Arch{X86_64}, nil},
	"ubuntu-24.04-server-arm64": {Casper, "/casper/vmlinuz", []string{"/casper/initrd"}, []Arch{ARM64}, nil},
	"debian-live-12":            {Live, "/live/vmlinuz-6.1.0-18-amd64", []string{"/live/initrd.img-6.1.0-18-amd64"}, []Arch{X86_64}, nil},
	"kali-2024.1-live":          {Live, "/live/vmlinuz", []string{"/live/initrd.img"}, []Arch{X86_64}, nil},
	"gparted-live-1.6":          {Live, "/live/vmlinuz", []string{"/live/initrd.img"}, []Arch{X86_64}, nil},
	"fedora-39-workstation":     {Dracut, "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img"}, []Arch{X86_64}, nil},
	"fedora-37-workstation":     {Dracut, "/isolinux/vmlinuz", []string{"/isolinux/initrd.img"}, []Arch{X86_64}, nil},
	"opensuse-tumbleweed-live":  {Dracut, "/boot/x86_64/loader/linux", []string{"/boot/x86_64/loader/initrd"}, []Arch{X86_64}, nil},
	"archlinux-2024.01.01": {Archiso, "/arch/boot/x86_64/vmlinuz-linux",
		[]string{"/arch/boot/amd-ucode.img", "/arch/boot/intel-ucode.img", "/arch/boot/x86_64/initramfs-linux.img"}, []Arch{X86_64},
		func(t *testing.T, d Detection) {
			if d.ArchisoBaseDir != "arch" || d.ArchisoLabel != "ARCH_202401" {
				t.Errorf("archiso base %q label %q", d.ArchisoBaseDir, d.ArchisoLabel)
			}
		}},
	// SystemRescue ships its own loopback.cfg (it sets img_dev/img_loop itself): preferred.
	// Kernel and initrd are what its chain boots, in its order.
	"systemrescue-11.00": {LoopbackCfg, "/sysresccd/boot/x86_64/vmlinuz",
		[]string{"/sysresccd/boot/intel_ucode.img", "/sysresccd/boot/amd_ucode.img", "/sysresccd/boot/x86_64/sysresccd.img"}, []Arch{X86_64},
		func(t *testing.T, d Detection) {
			if d.LoopbackCfg == "" || d.ArchisoBaseDir != "" ||
				!slices.Equal(d.LoopbackChain, []string{"/boot/grub/loopback.cfg", "/boot/grub/grubsrcd.cfg"}) {
				t.Errorf("loopback cfg %q chain %q, archiso base %q", d.LoopbackCfg, d.LoopbackChain, d.ArchisoBaseDir)
			}
		}},
	// grml's loopback.cfg sources ${prefix}/grub.cfg: not used; live-boot with its flavour's media path.
	"grml64-full-2024.02": {Live, "/boot/grml64full/vmlinuz", []string{"/boot/grml64full/initrd.img"}, []Arch{X86_64},
		func(t *testing.T, d Detection) {
			if d.LoopbackCfg != "" || d.LiveMediaPath != "/live/grml64-full" || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "${prefix}") {
				t.Errorf("loopback cfg %q media path %q notes %q", d.LoopbackCfg, d.LiveMediaPath, d.Notes)
			}
		}},
	"memtest86plus-6.10": {EFI, "", nil, []Arch{X86_64}, func(t *testing.T, d Detection) {
		if d.EFILoaders[X86_64] != "/EFI/BOOT/bootx64.efi" || !d.OwnEFILoader || d.BIOSKernel != "/boot/floppy.img" {
			t.Errorf("loaders %v bios %q", d.EFILoaders, d.BIOSKernel)
		}
	}},
	"ipxe": {EFI, "", nil, []Arch{X86_64}, func(t *testing.T, d Detection) {
		if d.EFIImage != "/efi.img" || d.BIOSKernel != "/ipxe.krn" || !d.OwnEFILoader {
			t.Errorf("efi image %q bios kernel %q", d.EFIImage, d.BIOSKernel)
		}
	}},
	"debian-12-netinst": {Linux, "/install.amd/vmlinuz", []string{"/install.amd/initrd.gz"}, []Arch{X86_64}, warns("plain kernel")},
	"alpine-3.19-standard": {Alpine, "/boot/vmlinuz-lts", []string{"/boot/initramfs-lts"}, []Arch{X86_64},
		warns("cannot loop-mount an ISO file")},

	"fedora-39-server-dvd": {Anaconda, "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img"}, []Arch{X86_64},
		args("inst.stage2=hd:LABEL=Fedora-S-dvd-x86_64-39", "iso-scan/filename=${iso}")},
	"rocky-9.3-dvd": {Anaconda, "/images/pxeboot/vmlinuz", []string{"/images/pxeboot/initrd.img"}, []Arch{X86_64},
		args("inst.stage2=hd:LABEL=Rocky-9-3-x86_64-dvd")},
	"tails-6.0": {Tails, "/live/vmlinuz", []string{"/live/initrd.img"}, []Arch{X86_64},
		args("boot=live", "findiso=${iso}", "module=Tails")},
	"antix-23-full": {AntiX, "/antiX/vmlinuz", []string{"/antiX/initrd.gz"}, []Arch{X86_64}, args("fromiso=${iso}")},
	"mx-23-xfce":    {AntiX, "/antiX/vmlinuz", []string{"/antiX/initrd.gz"}, []Arch{X86_64}, args("fromiso=${iso}")},
	"porteus-5.0":   {LinuxLive, "/boot/syslinux/vmlinuz", []string{"/boot/syslinux/initrd.xz"}, []Arch{X86_64}, args("from=${iso}")},
	"slax-15":       {LinuxLive, "/slax/boot/vmlinuz", []string{"/slax/boot/initrfs.img"}, []Arch{X86_64}, args("from=${iso}")},
	"gentoo-minimal-2024": {Dracut, "/boot/gentoo", []string{"/boot/gentoo.igz"}, []Arch{X86_64},
		args("rd.live.dir=/", "rd.live.squashimg=image.squashfs", "iso-scan/filename=${iso}")},
	"gentoo-minimal-2023": {Genkernel, "/isolinux/gentoo", []string{"/isolinux/gentoo.igz"}, []Arch{X86_64},
		args("isoboot=${iso}", "loop=/image.squashfs", "cdroot")},
	"manjaro-kde-23.1": {Miso, "/boot/vmlinuz-x86_64", []string{"/boot/amd_ucode.img", "/boot/intel_ucode.img", "/boot/initramfs-x86_64.img"},
		[]Arch{X86_64}, args("misobasedir=manjaro", "misolabel=MANJARO_KDE_2310", "img_loop=${iso}")},
	"nixos-24.05-minimal": {NixOS, "/boot/0lk9b6mxv3z0yhmvp2l5ffzm6xshj6ca-linux-6.6.32/bzImage",
		[]string{"/boot/8a1w3p6bx8jkdwhrr7dh3q6y0ym1x5ff-initrd-linux-6.6.32-initrd/initrd"}, []Arch{X86_64},
		args("init=/nix/store/v6b1gk7jz4yxkvb2nxmj4x3m6d8s0qaw-nixos-system-nixos-24.05.1234/init", "root=LABEL=nixos-minimal-24.05-x86_64", "findiso=${iso}")},
	"pop-os-22.04": {Casper, "/casper_pop-os_22.04_amd64_intel_debug_286/vmlinuz.efi", []string{"/casper_pop-os_22.04_amd64_intel_debug_286/initrd.gz"},
		[]Arch{X86_64}, args("live-media-path=/casper_pop-os_22.04_amd64_intel_debug_286", "iso-scan/filename=${iso}")},
	"ipxe-upstream": {EFI, "", nil, []Arch{X86_64}, func(t *testing.T, d Detection) {
		if d.EFIImage != "/esp.img" || d.BIOSKernel != "/ipxe.lkrn" {
			t.Errorf("efi image %q bios kernel %q", d.EFIImage, d.BIOSKernel)
		}
	}},
}

// args: the detection's arguments include these (${iso} standing for the ISO's path), and
// it carries no warning.
func args(want ...string) func(t *testing.T, d Detection) {
	return func(t *testing.T, d Detection) {
		for _, w := range want {
			if !slices.Contains(d.Args, w) {
				t.Errorf("arguments %q lack %q", d.Args, w)
			}
		}
		if len(d.Warnings) > 0 {
			t.Errorf("warnings: %q", d.Warnings)
		}
	}
}

// warns: the detection carries a warning containing s.
func warns(s string) func(t *testing.T, d Detection) {
	return func(t *testing.T, d Detection) {
		if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], s) {
			t.Errorf("warnings %q, want one containing %q", d.Warnings, s)
		}
	}
}

func TestInspectFixtures(t *testing.T) {
	fx := append(fixtures(), familyFixtures()...)
	if len(fx) != len(expectations) {
		t.Fatalf("%d fixtures, %d expectations", len(fx), len(expectations))
	}
	for _, f := range fx {
		t.Run(f.name, func(t *testing.T) {
			w, ok := expectations[f.name]
			if !ok {
				t.Fatal("no expectation")
			}
			d, err := Inspect(f.fs(), f.label+"   ")
			if err != nil {
				t.Fatal(err)
			}
			if d.Family != w.family || d.Kernel != w.kernel || !slices.Equal(d.Initrd, w.initrd) || !slices.Equal(d.Arches, w.arches) {
				t.Errorf("got family %s kernel %q initrd %q arches %v\nwant family %s kernel %q initrd %q arches %v",
					d.Family, d.Kernel, d.Initrd, d.Arches, w.family, w.kernel, w.initrd, w.arches)
			}
			if d.Label != f.label {
				t.Errorf("label %q, want %q (trimmed)", d.Label, f.label)
			}
			if w.extra != nil {
				w.extra(t, d)
			}
		})
	}
}

func TestInspectFailsWithWhatItFoundAndHowToOverride(t *testing.T) {
	for _, f := range badFixtures() {
		_, err := Inspect(f.fs(), f.label)
		if !errors.Is(err, ErrNoBootLayout) {
			t.Fatalf("%s: err %v, want ErrNoBootLayout", f.name, err)
		}
		for _, s := range []string{"boot:", "kernel:", "initrd:", "top level has /"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error lacks %q: %v", f.name, s, err)
			}
		}
		if f.name == "windows-11" && !strings.Contains(err.Error(), "Windows") {
			t.Errorf("windows not named: %v", err)
		}
	}
}

func fixtureByName(t *testing.T, name string) fixture {
	for _, f := range append(append(fixtures(), familyFixtures()...), badFixtures()...) {
		if f.name == name {
			return f
		}
	}
	t.Fatalf("no fixture %s", name)
	return fixture{}
}

func TestOverridesWin(t *testing.T) {
	netinst := fixtureByName(t, "debian-12-netinst")
	d, err := Resolve(netinst.fs(), "x", Overrides{Kernel: "install.amd/gtk/vmlinuz"})
	if err != nil || d.Kernel != "/install.amd/gtk/vmlinuz" || !slices.Equal(d.Initrd, []string{"/install.amd/gtk/initrd.gz"}) {
		t.Errorf("kernel override: %+v %v", d, err)
	}
	d, err = Resolve(netinst.fs(), "x", Overrides{Family: Live, Kernel: "/install.amd/vmlinuz", Initrd: []string{"/install.amd/xen/initrd.gz"}})
	if err != nil || d.Family != Live || !slices.Equal(d.Initrd, []string{"/install.amd/xen/initrd.gz"}) || !slices.Contains(d.Args, "findiso=${iso}") {
		t.Errorf("family+initrd override: %+v %v", d, err)
	}
	ubuntu := fixtureByName(t, "ubuntu-22.04-desktop")
	d, err = Resolve(ubuntu.fs(), "x", Overrides{Family: Casper})
	if err != nil || d.Family != Casper || d.Kernel != "/casper/vmlinuz" {
		t.Errorf("casper instead of loopback.cfg: %+v %v", d, err)
	}
	data := fixtureByName(t, "data-only")
	for _, tc := range []struct {
		ov   Overrides
		want string
	}{
		{Overrides{Family: "windows"}, `boot: "windows" is not a boot family`},
		{Overrides{Kernel: "/boot/vmlinuz"}, "kernel: /boot/vmlinuz not found in the iso"},
		{Overrides{Family: LoopbackCfg}, "no /boot/grub/loopback.cfg"},
		{Overrides{Family: EFI}, "no /EFI/BOOT/BOOT*.EFI"},
		{Overrides{Family: Casper}, "casper needs a kernel"},
	} {
		if _, err := Resolve(data.fs(), "x", tc.ov); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.ov, err, tc.want)
		}
	}
	d, err = Resolve(data.fs(), "x", Overrides{Kernel: "/README.txt", Initrd: []string{"docs/manual.pdf"}})
	if err != nil || d.Family != Linux || d.Initrd[0] != "/docs/manual.pdf" {
		t.Errorf("kernel override on an unknown layout: %+v %v", d, err)
	}
}

func TestDetectionJSON(t *testing.T) {
	d, err := Inspect(fixtureByName(t, "archlinux-2024.01.01").fs(), "ARCH_202401")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	json.Unmarshal(b, &back)
	for _, k := range []string{"family", "label", "kernel", "initrd", "args", "architectures", "own_efi_loader", "archisobasedir"} {
		if _, ok := back[k]; !ok {
			t.Errorf("json lacks %q: %s", k, b)
		}
	}
}

func TestDetectionLines(t *testing.T) {
	d, err := Resolve(fixtureByName(t, "systemrescue-11.00").fs(), "RESCUE1100", Overrides{Family: Archiso})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(d.Lines(), "\n")
	for _, want := range []string{"family: archiso", "label: RESCUE1100", "kernel: /sysresccd/boot/x86_64/vmlinuz",
		"initrd: /sysresccd/boot/amd_ucode.img /sysresccd/boot/intel_ucode.img /sysresccd/boot/x86_64/sysresccd.img",
		"arguments: img_dev=/dev/disk/by-uuid/${espuuid} img_loop=${iso} earlymodules=loop archisobasedir=sysresccd archisolabel=RESCUE1100",
		"architectures: x86_64", "own EFI loader: yes", "EFI loader x86_64: /EFI/boot/bootx64.efi"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// FuzzInspect: any file tree either fails with ErrNoBootLayout or yields paths that exist.
func FuzzInspect(f *testing.F) {
	f.Add("casper/vmlinuz\ncasper/initrd\nEFI/BOOT/BOOTX64.EFI")
	f.Add("arch/boot/x86_64/vmlinuz-linux\narch/boot/x86_64/initramfs-linux.img\narch/x86_64/airootfs.sfs")
	f.Add("LiveOS/squashfs.img\nboot/x86_64/loader/linux\nboot/x86_64/loader/initrd\nefi.img")
	f.Fuzz(func(t *testing.T, list string) {
		m := fstest.MapFS{}
		for _, p := range strings.Split(list, "\n") {
			p = strings.Trim(p, "/")
			if !fs.ValidPath(p) || p == "." {
				continue
			}
			m[p] = &fstest.MapFile{Data: []byte("x")}
		}
		if fstest.TestFS(m) != nil {
			return // a file and a directory of one name: not a tree an ISO can have
		}
		d, err := Inspect(m, "L")
		if err != nil {
			if !errors.Is(err, ErrNoBootLayout) {
				t.Fatalf("error is not ErrNoBootLayout: %v", err)
			}
			return
		}
		for _, p := range append(append([]string{d.Kernel, d.EFIImage, d.BIOSKernel, d.LoopbackCfg}, d.Initrd...), d.EFILoaders[X86_64]) {
			if p != "" && m[strings.TrimPrefix(p, "/")] == nil {
				t.Fatalf("%s reported but not in the tree", p)
			}
		}
	})
}

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
	"systemrescue-11.00": {LoopbackCfg, "/sysresccd/boot/x86_64/vmlinuz",
		[]string{"/sysresccd/boot/amd_ucode.img", "/sysresccd/boot/intel_ucode.img", "/sysresccd/boot/x86_64/sysresccd.img"}, []Arch{X86_64},
		func(t *testing.T, d Detection) {
			if d.LoopbackCfg == "" || d.ArchisoBaseDir != "" {
				t.Errorf("loopback cfg %q, archiso base %q", d.LoopbackCfg, d.ArchisoBaseDir)
			}
		}},
	"grml64-full-2024.02": {LoopbackCfg, "/boot/grml64full/vmlinuz", []string{"/boot/grml64full/initrd.img"}, []Arch{X86_64},
		func(t *testing.T, d Detection) {
			if d.LoopbackCfg != "/boot/grub/loopback.cfg" {
				t.Errorf("loopback cfg %q", d.LoopbackCfg)
			}
		}},
	"memtest86plus-6.10": {EFI, "", nil, []Arch{X86_64}, func(t *testing.T, d Detection) {
		if d.EFILoaders[X86_64] != "/EFI/BOOT/bootx64.efi" || !d.OwnEFILoader {
			t.Errorf("loaders %v", d.EFILoaders)
		}
	}},
	"ipxe": {EFI, "", nil, []Arch{X86_64}, func(t *testing.T, d Detection) {
		if d.EFIImage != "/efi.img" || d.BIOSKernel != "/ipxe.krn" || !d.OwnEFILoader {
			t.Errorf("efi image %q bios kernel %q", d.EFIImage, d.BIOSKernel)
		}
	}},
	"debian-12-netinst":    {Linux, "/install.amd/vmlinuz", []string{"/install.amd/initrd.gz"}, []Arch{X86_64}, nil},
	"alpine-3.19-standard": {Linux, "/boot/vmlinuz-lts", []string{"/boot/initramfs-lts"}, []Arch{X86_64}, nil},
}

func TestInspectFixtures(t *testing.T) {
	fx := fixtures()
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
	for _, f := range append(fixtures(), badFixtures()...) {
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

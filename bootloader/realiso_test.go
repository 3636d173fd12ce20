package bootloader

import (
	"os"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/usbkit/compose/bootloader/assets"
)

// Real ISOs shipped by Debian packages, opened through go-diskfs as compose does.
func TestInspectRealDebianISOs(t *testing.T) {
	for _, tc := range []struct {
		path, pkg string
		check     func(t *testing.T, d Detection)
	}{
		{"/usr/lib/memtest86+/memtest86+x64.iso", "memtest86+", func(t *testing.T, d Detection) {
			if d.Family != EFI || d.EFILoaders[X86_64] != "/EFI/BOOT/bootx64.efi" || len(d.Arches) != 1 || d.Arches[0] != X86_64 {
				t.Errorf("memtest86+x64: %+v", d)
			}
		}},
		{"/usr/lib/memtest86+/memtest86+ia32.iso", "memtest86+", func(t *testing.T, d Detection) {
			if d.Family != EFI || d.EFILoaders[IA32] != "/EFI/BOOT/bootia32.efi" {
				t.Errorf("memtest86+ia32: %+v", d)
			}
		}},
		{"/usr/lib/ipxe/ipxe.iso", "ipxe", func(t *testing.T, d Detection) {
			if d.Family != EFI || d.EFIImage != "/efi.img" || d.BIOSKernel != "/ipxe.krn" {
				t.Errorf("ipxe: %+v", d)
			}
		}},
	} {
		t.Run(tc.pkg+"-"+tc.path, func(t *testing.T) {
			needFile(t, tc.path, tc.pkg)
			fsys, label := openISO(t, tc.path)
			d, err := Inspect(fsys, label)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, d)
			sb, err := CheckSecureBoot(fsys, d)
			if err != nil {
				t.Fatal(err)
			}
			if sb.Boots || !strings.Contains(sb.Remedy, "Secure Boot") {
				t.Errorf("unsigned Debian payload predicted to boot under Secure Boot: %+v", sb)
			}
		})
	}
}

func TestSecureBootVerdicts(t *testing.T) {
	shim, _ := assets.Read(assets.ShimX64)
	grub, _ := assets.Read(assets.GrubX64)
	ia32, _ := assets.Read(assets.GrubIA32)
	fsys := fstest.MapFS{
		"EFI/BOOT/BOOTX64.EFI": {Data: shim}, "live/vmlinuz": {Data: grub}, "live/unsigned": {Data: ia32},
		"live/vmlinuz.gz": {Data: []byte{0x1f, 0x8b, 8, 0}},
	}
	for _, tc := range []struct {
		d      Detection
		trust  Trust
		boots  bool
		signer string
	}{
		{Detection{Family: EFI, EFILoaders: map[Arch]string{X86_64: "/EFI/BOOT/BOOTX64.EFI"}}, TrustMicrosoft, true, "Microsoft Windows UEFI Driver Publisher"},
		{Detection{Family: Live, Kernel: "/live/vmlinuz"}, TrustDebian, true, "Debian Secure Boot Signer"},
		{Detection{Family: Live, Kernel: "/live/unsigned"}, TrustUnsigned, false, ""},
		{Detection{Family: Live, Kernel: "/live/vmlinuz.gz"}, TrustUnknown, false, ""},
		{Detection{Family: EFI, EFIImage: "/efi.img"}, TrustUnknown, false, ""},
	} {
		r, err := CheckSecureBoot(fsys, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if r.Trust != tc.trust || r.Boots != tc.boots || !strings.HasPrefix(r.Signer, tc.signer) || (!r.Boots && r.Remedy == "") {
			t.Errorf("%+v: got %+v", tc.d, r)
		}
	}
	if got := classify(nil); got != TrustOther {
		t.Errorf("no known issuer: %s", got)
	}
}

// The kernel the boot test uses is Debian's own: it must be recognised as Debian-signed.
func TestSecureBootDebianKernel(t *testing.T) {
	k := testKernel(t)
	b, err := os.ReadFile(k)
	if err != nil {
		t.Fatal(err)
	}
	r, err := CheckSecureBoot(fstest.MapFS{"live/vmlinuz": {Data: b}}, Detection{Family: Live, Kernel: "/live/vmlinuz"})
	if err != nil || r.Trust != TrustDebian || !r.Boots {
		t.Fatalf("%s: %+v %v", k, r, err)
	}
	t.Logf("%s signed by %q (%s)", k, r.Signer, r.Issuer)
}

func TestOtherVendorRemedyNamesMokManager(t *testing.T) {
	r := SecureBootReport{Signer: "Canonical Ltd. Secure Boot Signing (2017)", Issuer: "Canonical Ltd. Master Certificate Authority", Trust: TrustOther}
	if s := remedy(r); !strings.Contains(s, "MokManager") || !strings.Contains(s, "Canonical") || !strings.Contains(s, "disable Secure Boot") {
		t.Errorf("remedy %q", s)
	}
}

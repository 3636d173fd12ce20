package compose

import (
	"context"
	"os"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/isoimage"
)

// TestPayloadProof: the default proof comes from what the ISO is: Debian's
// memtest86+ and iPXE ISOs as shipped, an unknown EFI payload, a Linux
// family.
func TestPayloadProof(t *testing.T) {
	for iso, want := range map[string]string{
		"/usr/lib/memtest86+/memtest86+x64.iso": ProofMemtest,
		"/usr/lib/ipxe/ipxe.iso":                ProofIPXE,
	} {
		_, err := os.Stat(iso)
		testenv.Require(t, err == nil, iso+" is not installed (Debian packages memtest86+, ipxe)")
		in, err := isoimage.Inspect(context.Background(), iso)
		if err != nil {
			t.Fatal(err)
		}
		if got := payloadProof(&in.Boot); got != want {
			t.Errorf("%s (%+v): proof %q, want %q", iso, in.Boot, got, want)
		}
	}
	for _, tc := range []struct {
		d    bootloader.Detection
		want string
	}{
		{bootloader.Detection{Family: bootloader.EFI, Label: "SHELL", EFILoaders: map[bootloader.Arch]string{bootloader.X86_64: "/EFI/BOOT/BOOTX64.EFI"}}, ProofPayload},
		{bootloader.Detection{Family: bootloader.EFI, Label: "TOOLS", BIOSKernel: "/boot/memtest.bin"}, ProofMemtest},
		{bootloader.Detection{Family: bootloader.EFI, Label: "NET", BIOSKernel: "/ipxe.lkrn"}, ProofIPXE},
		{bootloader.Detection{Family: bootloader.Live, Label: "d-live", Kernel: "/live/vmlinuz"}, ProofKernel},
		{bootloader.Detection{Family: bootloader.LoopbackCfg, Label: "MT86PLUS_64"}, ProofKernel},
	} {
		if got := payloadProof(&tc.d); got != tc.want {
			t.Errorf("%+v: proof %q, want %q", tc.d, got, tc.want)
		}
	}
	if payloadProof(nil) != ProofKernel {
		t.Error("no detection: the kernel banner")
	}
}

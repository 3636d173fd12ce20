package authenticode

import (
	"bytes"
	"debug/pe"
	"errors"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader/assets"
)

func signersOf(t *testing.T, name string) ([]Signer, error) {
	t.Helper()
	b, err := assets.Read(name)
	if err != nil {
		t.Fatal(err)
	}
	return Signers(bytes.NewReader(b))
}

func TestRealSignedBinaries(t *testing.T) {
	for _, tc := range []struct{ asset, subject, issuer string }{
		{assets.ShimX64, "Microsoft Windows UEFI Driver Publisher", "Microsoft Corporation UEFI CA 2011"},
		{assets.ShimAA64, "Microsoft Windows UEFI Driver Publisher", "Microsoft Corporation UEFI CA 2011"},
		{assets.GrubX64, "Debian Secure Boot Signer", "Debian Secure Boot CA"},
		{assets.GrubAA64, "Debian Secure Boot Signer", "Debian Secure Boot CA"},
		{assets.MokX64, "Debian Secure Boot Signer", "Debian Secure Boot CA"},
	} {
		s, err := signersOf(t, tc.asset)
		if err != nil {
			t.Fatalf("%s: %v", tc.asset, err)
		}
		if !strings.HasPrefix(s[0].Subject, tc.subject) || s[0].Issuer != tc.issuer {
			t.Errorf("%s: signer %q issued by %q, want %q… by %q", tc.asset, s[0].Subject, s[0].Issuer, tc.subject, tc.issuer)
		}
		if c := s[0].Cert; c == nil || c.Subject.CommonName != s[0].Subject || c.Issuer.CommonName != tc.issuer {
			t.Errorf("%s: signing certificate %v not returned with the signer", tc.asset, c)
		}
		for _, c := range s[0].Chain {
			if c == s[0].Cert {
				t.Errorf("%s: the leaf is repeated in the chain", tc.asset)
			}
		}
	}
}

func TestUnsignedAndNotPE(t *testing.T) {
	if _, err := signersOf(t, assets.GrubIA32); !errors.Is(err, ErrUnsigned) {
		t.Errorf("BOOTIA32.EFI (built unsigned): err %v, want ErrUnsigned", err)
	}
	if _, err := signersOf(t, assets.BootImg); !errors.Is(err, ErrNotPE) {
		t.Errorf("boot.img: err %v, want ErrNotPE", err)
	}
	b, _ := assets.Read(assets.GrubIA32)
	if m, err := Machine(bytes.NewReader(b)); err != nil || m != pe.IMAGE_FILE_MACHINE_I386 {
		t.Errorf("BOOTIA32.EFI machine %#x, %v", m, err)
	}
}

func TestCorruptSignatureIsAnError(t *testing.T) {
	b, _ := assets.Read(assets.GrubX64)
	f, err := pe.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	dd := f.OptionalHeader.(*pe.OptionalHeader64).DataDirectory[4]
	bad := append([]byte(nil), b...)
	for i := dd.VirtualAddress + 8; i < dd.VirtualAddress+64; i++ {
		bad[i] = 0xFF
	}
	if _, err := Signers(bytes.NewReader(bad)); err == nil || errors.Is(err, ErrUnsigned) {
		t.Fatalf("garbled PKCS#7 gave %v", err)
	}
}

func FuzzParseCertTable(f *testing.F) {
	b, _ := assets.Read(assets.ShimX64)
	fp, _ := pe.NewFile(bytes.NewReader(b))
	dd := fp.OptionalHeader.(*pe.OptionalHeader64).DataDirectory[4]
	f.Add(b[dd.VirtualAddress : dd.VirtualAddress+dd.Size])
	f.Fuzz(func(t *testing.T, table []byte) {
		parseCertTable(table) // must not panic
	})
}

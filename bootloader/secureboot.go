package bootloader

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/usbkit/compose/bootloader/authenticode"
)

// Trust says whether Debian's shim (the one compose installs) will start a payload.
type Trust string

// Trust levels.
const (
	TrustDebian    Trust = "debian"    // signed under Debian's CA, built into Debian's shim: boots
	TrustMicrosoft Trust = "microsoft" // signed under Microsoft's UEFI CA, in the firmware db: boots
	TrustOther     Trust = "other"     // another vendor (Canonical, Red Hat, SUSE…): needs its key enrolled
	TrustUnsigned  Trust = "unsigned"  // no Authenticode signature: needs Secure Boot off
	TrustUnknown   Trust = "unknown"   // payload not readable as PE here (e.g. inside efi.img, compressed)
)

// SecureBootReport is the Secure Boot verdict for one ISO's boot payload.
type SecureBootReport struct {
	Payload string `json:"payload"`          // path inside the ISO that GRUB hands to shim
	Inner   string `json:"inner,omitempty"`  // the loader inside Payload when Payload is an EFI boot image
	Signer  string `json:"signer,omitempty"` // subject CN of the signing certificate
	Issuer  string `json:"issuer,omitempty"`
	Trust   Trust  `json:"trust"`
	Boots   bool   `json:"boots"`            // expected to boot with Secure Boot on
	Remedy  string `json:"remedy,omitempty"` // what the user can do when it does not
	// Certs are the signing certificate and the chain the signature carries (nil when
	// unsigned): what a user enrols with MokManager to trust this payload.
	Certs []*x509.Certificate `json:"-"`
}

// CheckSecureBoot reads the Authenticode signature of the payload GRUB will start for d (its
// kernel, or its EFI application) and says whether Debian's shim will accept it. It names
// the signer from the certificate; it does not verify the signature cryptographically.
func CheckSecureBoot(fsys fs.FS, d Detection) (SecureBootReport, error) {
	payload := d.Kernel
	if d.Family == EFI || payload == "" {
		for _, a := range []Arch{X86_64, ARM64, IA32} {
			if payload = d.EFILoaders[a]; payload != "" {
				break
			}
		}
	}
	var unreadable error
	if payload == "" && d.EFIImage != "" {
		r := SecureBootReport{Payload: d.EFIImage, Inner: EFIImageLoader}
		b, err := PayloadData(fsys, r)
		if err == nil {
			return judge(r, b)
		}
		unreadable = err
	}
	if payload == "" {
		what := "no kernel found; the iso's own loopback.cfg decides what it boots"
		if d.EFIImage != "" {
			what = fmt.Sprintf("its EFI application is inside %s, which could not be read (%v)", d.EFIImage, unreadable)
		}
		return SecureBootReport{Payload: d.EFIImage, Trust: TrustUnknown,
			Remedy: what + "; if it fails with \"bad shim signature\", enroll its vendor key with MokManager or disable Secure Boot"}, nil
	}
	r := SecureBootReport{Payload: payload}
	b, err := PayloadData(fsys, r)
	if err != nil {
		return SecureBootReport{}, err
	}
	return judge(r, b)
}

// EFIImageLoader is the loader GRUB chainloads from an ISO's EFI boot image (efi.img).
const EFIImageLoader = "/EFI/BOOT/BOOTX64.EFI"

// PayloadData reads the payload r names: a file of the ISO, or the loader inside the
// ISO's EFI boot image.
func PayloadData(fsys fs.FS, r SecureBootReport) ([]byte, error) {
	b, err := readCapped(fsys, strings.TrimPrefix(r.Payload, "/"))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Payload, err)
	}
	if r.Inner == "" {
		return b, nil
	}
	if b, err = readFATFile(b, r.Inner); err != nil {
		return nil, fmt.Errorf("reading %s: %w", r.Payload, err)
	}
	return b, nil
}

func judge(r SecureBootReport, b []byte) (SecureBootReport, error) {
	signers, err := authenticode.Signers(bytes.NewReader(b))
	switch {
	case errors.Is(err, authenticode.ErrUnsigned):
		r.Trust = TrustUnsigned
	case errors.Is(err, authenticode.ErrNotPE):
		r.Trust = TrustUnknown
	case err != nil:
		return SecureBootReport{}, fmt.Errorf("signature of %s: %w", r.Payload+r.Inner, err)
	default:
		r.Signer, r.Issuer, r.Trust = signers[0].Subject, signers[0].Issuer, classify(signers)
		r.Certs = append([]*x509.Certificate{signers[0].Cert}, signers[0].Chain...)
	}
	r.Boots = r.Trust == TrustDebian || r.Trust == TrustMicrosoft
	r.Remedy = remedy(r)
	return r, nil
}

// classify trusts the image if any of its signatures chains to a CA Debian's shim accepts.
func classify(signers []authenticode.Signer) Trust {
	t := TrustOther
	for _, s := range signers {
		switch {
		case strings.HasPrefix(s.Issuer, "Debian Secure Boot CA"):
			return TrustDebian
		case strings.HasPrefix(s.Issuer, "Microsoft Corporation UEFI CA"), strings.HasPrefix(s.Issuer, "Microsoft UEFI CA"):
			t = TrustMicrosoft
		}
	}
	return t
}

func remedy(r SecureBootReport) string {
	switch r.Trust {
	case TrustOther:
		return fmt.Sprintf("signed by %q (issuer %q), which Debian's shim does not trust: enroll that vendor's certificate with MokManager (menu entry %q), or disable Secure Boot", r.Signer, r.Issuer, IDMokManager)
	case TrustUnsigned:
		return "not signed: it boots only with Secure Boot disabled in the firmware setup"
	case TrustUnknown:
		return "signature not readable (not a PE image); if it fails with \"bad shim signature\", enroll its vendor key with MokManager or disable Secure Boot"
	}
	return ""
}

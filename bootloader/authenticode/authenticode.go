// Package authenticode names who signed a PE/COFF image (an EFI binary or an EFI-stub
// kernel) and signs images with a user's key.
//
// Signers reads the security directory's WIN_CERTIFICATE, decodes the PKCS#7 SignedData
// inside and returns the signing certificate (and the others the signature carries). It
// identifies the signer; it does not verify the signature or the image digest. That is
// enough to predict whether a shim will accept the image, and to copy the vendor's
// certificate onto a stick for enrolment.
//
// Sign adds an Authenticode signature (SHA-256, no timestamp) made with a private key and
// its certificate, replacing any signature the image had; the PKCS#7 and Authenticode
// structures come from github.com/sassoftware/relic, the PE digest is computed here.
// LoadKeyPair reads the key pair.
package authenticode

import (
	"bytes"
	"crypto/x509"
	"debug/pe"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrNotPE means the data is not a PE/COFF image at all (e.g. a compressed arm64 kernel).
var ErrNotPE = errors.New("not a PE/COFF image")

// ErrUnsigned means a PE image without an Authenticode signature.
var ErrUnsigned = errors.New("no Authenticode signature")

// Signer describes the certificate that signed an image.
type Signer struct {
	Subject   string // subject common name, e.g. "Debian Secure Boot Signer 2022 - grub2"
	Issuer    string // issuer common name, e.g. "Debian Secure Boot CA"
	SubjectDN string
	IssuerDN  string
	// Cert is the signing certificate; Chain the other certificates the
	// signature carries (intermediates, sometimes the CA), in their order.
	Cert  *x509.Certificate
	Chain []*x509.Certificate
}

// Machine returns the PE machine type (pe.IMAGE_FILE_MACHINE_*) of an image.
func Machine(r io.ReaderAt) (uint16, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrNotPE, err)
	}
	defer f.Close()
	return f.Machine, nil
}

const (
	winCertRevision2  = 0x0200
	winCertPKCSSigned = 0x0002
	certDirIndex      = 4 // IMAGE_DIRECTORY_ENTRY_SECURITY
)

// Signers returns the signer of every PKCS#7 signature in the image's security directory,
// in file order (an image may carry several).
func Signers(r io.ReaderAt) ([]Signer, error) {
	f, err := pe.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotPE, err)
	}
	defer f.Close()
	var dd pe.DataDirectory
	switch oh := f.OptionalHeader.(type) {
	case *pe.OptionalHeader64:
		if oh.NumberOfRvaAndSizes > certDirIndex {
			dd = oh.DataDirectory[certDirIndex]
		}
	case *pe.OptionalHeader32:
		if oh.NumberOfRvaAndSizes > certDirIndex {
			dd = oh.DataDirectory[certDirIndex]
		}
	default:
		return nil, fmt.Errorf("%w: no optional header", ErrNotPE)
	}
	if dd.Size == 0 {
		return nil, ErrUnsigned
	}
	if dd.Size > 1<<20 {
		return nil, fmt.Errorf("security directory of %d bytes: implausible", dd.Size)
	}
	table := make([]byte, dd.Size)
	// VirtualAddress of the security directory is a file offset, not an RVA.
	if _, err := r.ReadAt(table, int64(dd.VirtualAddress)); err != nil {
		return nil, fmt.Errorf("reading security directory at %#x: %w", dd.VirtualAddress, err)
	}
	return parseCertTable(table)
}

func parseCertTable(table []byte) ([]Signer, error) {
	var out []Signer
	for len(table) >= 8 {
		length := binary.LittleEndian.Uint32(table)
		rev := binary.LittleEndian.Uint16(table[4:])
		typ := binary.LittleEndian.Uint16(table[6:])
		if length < 8 || uint64(length) > uint64(len(table)) {
			return nil, fmt.Errorf("WIN_CERTIFICATE length %d out of range", length)
		}
		if rev == winCertRevision2 && typ == winCertPKCSSigned {
			s, err := signerOf(table[8:length])
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		next := (uint64(length) + 7) &^ 7 // entries are 8-byte aligned
		if next >= uint64(len(table)) {
			break
		}
		table = table[next:]
	}
	if len(out) == 0 {
		return nil, ErrUnsigned
	}
	return out, nil
}

var oidSignedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial asn1.RawValue
}

// signerOf decodes ContentInfo → SignedData, takes the first SignerInfo's issuer and serial
// and finds that certificate among SignedData.certificates.
func signerOf(der []byte) (Signer, error) {
	var ci contentInfo
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		return Signer{}, fmt.Errorf("PKCS#7 ContentInfo: %w", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return Signer{}, fmt.Errorf("PKCS#7 content type %v, want signedData", ci.ContentType)
	}
	// Content is [0] EXPLICIT SignedData; RawValue keeps the SEQUENCE, so descend once.
	var sd asn1.RawValue
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || sd.Tag != asn1.TagSequence {
		return Signer{}, fmt.Errorf("PKCS#7 SignedData: not a SEQUENCE (%v)", err)
	}
	fields, err := sequenceItems(sd.Bytes)
	if err != nil {
		return Signer{}, fmt.Errorf("PKCS#7 SignedData: %w", err)
	}
	var certs []*x509.Certificate
	var signerInfos *asn1.RawValue
	// version, digestAlgorithms, contentInfo, [0] certificates?, [1] crls?, signerInfos
	for i := range fields {
		f := &fields[i]
		switch {
		case f.Class == asn1.ClassContextSpecific && f.Tag == 0:
			if certs, err = parseCerts(f.Bytes); err != nil {
				return Signer{}, err
			}
		case i >= 3 && f.Class == asn1.ClassUniversal && f.Tag == asn1.TagSet:
			signerInfos = f
		}
	}
	if signerInfos == nil {
		return Signer{}, errors.New("PKCS#7 SignedData without signerInfos")
	}
	infos, err := sequenceItems(signerInfos.Bytes)
	if err != nil || len(infos) == 0 {
		return Signer{}, fmt.Errorf("PKCS#7 signerInfos: empty or malformed (%v)", err)
	}
	si, err := sequenceItems(infos[0].Bytes)
	if err != nil || len(si) < 2 {
		return Signer{}, fmt.Errorf("PKCS#7 SignerInfo malformed (%v)", err)
	}
	var ias issuerAndSerial
	if _, err := asn1.Unmarshal(si[1].FullBytes, &ias); err != nil {
		return Signer{}, fmt.Errorf("PKCS#7 issuerAndSerialNumber: %w", err)
	}
	for _, c := range certs {
		if bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) && bytes.Equal(serialBytes(c), ias.Serial.Bytes) {
			return Signer{c.Subject.CommonName, c.Issuer.CommonName, c.Subject.String(), c.Issuer.String(), c, others(certs, c)}, nil
		}
	}
	return Signer{}, errors.New("PKCS#7: signing certificate not included in the signature")
}

func others(certs []*x509.Certificate, leaf *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range certs {
		if c != leaf {
			out = append(out, c)
		}
	}
	return out
}

func serialBytes(c *x509.Certificate) []byte {
	b, _ := asn1.Marshal(c.SerialNumber)
	var rv asn1.RawValue
	asn1.Unmarshal(b, &rv)
	return rv.Bytes
}

func sequenceItems(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var rv asn1.RawValue
		rest, err := asn1.Unmarshal(b, &rv)
		if err != nil {
			return nil, err
		}
		out = append(out, rv)
		b = rest
	}
	return out, nil
}

func parseCerts(b []byte) ([]*x509.Certificate, error) {
	items, err := sequenceItems(b)
	if err != nil {
		return nil, fmt.Errorf("PKCS#7 certificates: %w", err)
	}
	var out []*x509.Certificate
	for _, it := range items {
		c, err := x509.ParseCertificate(it.FullBytes)
		if err != nil {
			continue // other certificate choices (attribute certs) are not signers
		}
		out = append(out, c)
	}
	return out, nil
}

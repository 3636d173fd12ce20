package authenticode

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	relic "github.com/sassoftware/relic/v8/lib/authenticode"
	"github.com/sassoftware/relic/v8/lib/pkcs7"
	"github.com/sassoftware/relic/v8/lib/pkcs9"
	"github.com/sassoftware/relic/v8/lib/x509tools"
)

// KeyPair is a private key and the certificate of its public key.
type KeyPair struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Sign returns a copy of the PE image signed with kp (Authenticode, SHA-256, no
// timestamp). Signatures the image already had are replaced: the copy is meant to be
// trusted through kp's certificate. The PKCS#7 SignedData and the Authenticode structures
// come from relic; the PE digest is this package's, because relic's refuses images with a
// short optional header (memtest86+).
func Sign(image []byte, kp KeyPair) ([]byte, error) {
	img, digest, l, err := unsignedImage(image)
	if err != nil {
		return nil, err
	}
	alg, ok := x509tools.PkixDigestAlgorithm(crypto.SHA256)
	if !ok {
		return nil, errors.New("SHA-256 unsupported")
	}
	var indirect relic.SpcIndirectDataContentPe
	indirect.Data.Type = relic.OidSpcPeImageData
	indirect.Data.Value.File.File = relic.NewSpcString("")
	indirect.MessageDigest.Digest = digest
	indirect.MessageDigest.DigestAlgorithm = alg
	b := pkcs7.NewBuilder(kp.Key, []*x509.Certificate{kp.Cert}, crypto.SHA256)
	if err := b.SetContent(relic.OidSpcIndirectDataContent, indirect); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if err := b.AddAuthenticatedAttribute(relic.OidSpcStatementType, relic.SpcSpStatementType{Type: relic.OidSpcIndividualPurpose}); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	if err := b.AddAuthenticatedAttribute(relic.OidSpcSpOpusInfo, relic.SpcSpOpusInfo{}); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	psd, err := b.Sign()
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	ts, err := pkcs9.TimestampAndMarshal(context.Background(), psd, nil, true)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return appendSignature(img, l, ts.Raw), nil
}

// LoadKeyPair reads an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1; RSA or ECDSA)
// and a certificate (PEM or DER) and checks that they belong together. The errors name the
// file at fault.
func LoadKeyPair(keyFile, certFile string) (KeyPair, error) {
	cert, err := LoadCert(certFile)
	if err != nil {
		return KeyPair{}, err
	}
	b, err := readKeyFile(keyFile)
	if err != nil {
		return KeyPair{}, fmt.Errorf("private key: %w", err)
	}
	key, err := parseKey(b)
	if err != nil {
		return KeyPair{}, fmt.Errorf("private key %s: %w", keyFile, err)
	}
	if !publicEqual(key.Public(), cert.PublicKey) {
		return KeyPair{}, fmt.Errorf("private key %s does not belong to certificate %s (%s)", keyFile, certFile, cert.Subject)
	}
	return KeyPair{Key: key, Cert: cert}, nil
}

// LoadCert reads one X.509 certificate, PEM ("CERTIFICATE" block) or DER.
func LoadCert(file string) (*x509.Certificate, error) {
	b, err := readKeyFile(file)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("certificate %s: PEM block %q, want CERTIFICATE", file, blk.Type)
		}
		b = blk.Bytes
	}
	c, err := x509.ParseCertificate(b)
	if err != nil {
		return nil, fmt.Errorf("certificate %s: %w", file, err)
	}
	return c, nil
}

func parseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not PEM (want -----BEGIN PRIVATE KEY-----)")
	}
	if x509.IsEncryptedPEMBlock(blk) || blk.Type == "ENCRYPTED PRIVATE KEY" { //nolint:staticcheck // detection only
		return nil, errors.New("encrypted; compose needs an unencrypted key (openssl req … -nodes)")
	}
	var k any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
	}
	if err != nil {
		return nil, err
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("%T keys are not supported: use RSA (what shim and MokManager expect)", k)
}

func publicEqual(a, b crypto.PublicKey) bool {
	if e, ok := a.(interface{ Equal(crypto.PublicKey) bool }); ok {
		return e.Equal(b)
	}
	return false
}

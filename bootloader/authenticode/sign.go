package authenticode

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	relic "github.com/sassoftware/relic/v8/lib/authenticode"
	"github.com/sassoftware/relic/v8/lib/binpatch"
	"github.com/sassoftware/relic/v8/lib/certloader"
)

// KeyPair is a private key and the certificate of its public key.
type KeyPair struct {
	Key  crypto.Signer
	Cert *x509.Certificate
}

// Sign returns a copy of the PE image signed with kp (Authenticode, SHA-256). Signatures
// the image already had are replaced: shim checks the one it finds against its keys, and
// the copy is meant to be trusted through kp's certificate.
func Sign(image []byte, kp KeyPair) ([]byte, error) {
	if _, err := Machine(bytes.NewReader(image)); err != nil {
		return nil, err
	}
	pd, err := relic.DigestPE(bytes.NewReader(image), crypto.SHA256, false)
	if err != nil {
		return nil, fmt.Errorf("PE digest: %w", err)
	}
	cert := &certloader.Certificate{Leaf: kp.Cert, PrivateKey: kp.Key}
	patch, _, err := pd.Sign(context.Background(), cert, nil)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return applyPatch(image, patch)
}

// applyPatch applies relic's patch set (sorted, non-overlapping replacements) in memory.
func applyPatch(in []byte, p *binpatch.PatchSet) ([]byte, error) {
	var out bytes.Buffer
	var at int64
	for i, h := range p.Patches {
		if h.Offset < at || h.Offset > int64(len(in)) {
			return nil, fmt.Errorf("signature patch %d at %d out of order", i, h.Offset)
		}
		out.Write(in[at:h.Offset])
		out.Write(p.Blobs[i])
		at = h.Offset + int64(h.OldSize)
	}
	if at < int64(len(in)) {
		out.Write(in[at:])
	}
	return out.Bytes(), nil
}

// LoadKeyPair reads an unencrypted PEM private key (PKCS#8, PKCS#1 or SEC 1; RSA or ECDSA)
// and a certificate (PEM or DER) and checks that they belong together. The errors name the
// file at fault.
func LoadKeyPair(keyFile, certFile string) (KeyPair, error) {
	cert, err := LoadCert(certFile)
	if err != nil {
		return KeyPair{}, err
	}
	b, err := os.ReadFile(keyFile)
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
	b, err := os.ReadFile(file)
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

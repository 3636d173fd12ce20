package bootloader

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"

	"github.com/usbkit/compose/bootloader/assets"
	"github.com/usbkit/compose/bootloader/authenticode"
)

// testKeyPair writes a fresh RSA key and self-signed certificate (PEM) as a user would
// make them with openssl, and returns their paths.
func testKeyPair(t *testing.T, dir, cn string) (keyFile, certFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, Organization: []string{cn}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, cn+".key"), filepath.Join(dir, cn+".crt")
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	writePEM(t, keyFile, "PRIVATE KEY", kb)
	writePEM(t, certFile, "CERTIFICATE", der)
	return keyFile, certFile
}

func writePEM(t *testing.T, file, typ string, b []byte) {
	t.Helper()
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSignVerifiedBySbverify signs an unsigned EFI binary and a Debian-signed one (whose
// signature is replaced) and has sbsigntool's sbverify check each against the certificate
// — and refuse each against another certificate.
func TestSignVerifiedBySbverify(t *testing.T) {
	needTool(t, "sbverify")
	dir := t.TempDir()
	keyFile, certFile := testKeyPair(t, dir, "compose-test-mok")
	_, otherCert := testKeyPair(t, dir, "someone-else")
	kp, err := authenticode.LoadKeyPair(keyFile, certFile)
	if err != nil {
		t.Fatal(err)
	}
	images := map[string][]byte{}
	for _, asset := range []string{assets.GrubIA32, assets.GrubX64, assets.MokX64} {
		in, err := assets.Read(asset)
		if err != nil {
			t.Fatal(err)
		}
		images[asset] = in
	}
	// memtest86+'s EFI binary has a short optional header (6 data directories).
	images["memtest86+ bootx64.efi"] = memtestEFI(t)
	for asset, in := range images {
		out, err := authenticode.Sign(in, kp)
		if err != nil {
			t.Fatalf("%s: %v", asset, err)
		}
		signed := filepath.Join(dir, filepath.Base(asset)+".signed")
		if err := os.WriteFile(signed, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command("sbverify", "--cert", certFile, signed).CombinedOutput(); err != nil {
			t.Errorf("%s: sbverify refused compose's signature: %v\n%s", asset, err, b)
		}
		if b, err := exec.Command("sbverify", "--cert", otherCert, signed).CombinedOutput(); err == nil {
			t.Errorf("%s: sbverify accepted the signature against an unrelated certificate:\n%s", asset, b)
		}
		s, err := authenticode.Signers(bytes.NewReader(out))
		if err != nil || len(s) != 1 || s[0].Subject != "compose-test-mok" {
			t.Errorf("%s: signers after signing %+v, %v (want only compose-test-mok)", asset, s, err)
		}
	}
}

func TestLoadKeyPairErrors(t *testing.T) {
	dir := t.TempDir()
	keyFile, certFile := testKeyPair(t, dir, "a")
	otherKey, _ := testKeyPair(t, dir, "b")
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	eb, _ := x509.MarshalECPrivateKey(ec)
	writePEM(t, filepath.Join(dir, "enc.key"), "ENCRYPTED PRIVATE KEY", []byte{1})
	writePEM(t, filepath.Join(dir, "ec.key"), "EC PRIVATE KEY", eb)
	for name, tc := range map[string]struct{ key, cert, want string }{
		"missing key":  {filepath.Join(dir, "nope.key"), certFile, "private key: open " + dir + "/nope.key: no such file"},
		"missing cert": {keyFile, filepath.Join(dir, "nope.crt"), "certificate: open " + dir + "/nope.crt"},
		"cert as key":  {certFile, certFile, `PEM block "CERTIFICATE" is not a private key`},
		"key as cert":  {keyFile, keyFile, `PEM block "PRIVATE KEY", want CERTIFICATE`},
		"encrypted":    {filepath.Join(dir, "enc.key"), certFile, "encrypted"},
		"not theirs":   {otherKey, certFile, "does not belong to certificate"},
		"ec for rsa":   {filepath.Join(dir, "ec.key"), certFile, "does not belong to certificate"},
	} {
		if _, err := authenticode.LoadKeyPair(tc.key, tc.cert); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func memtestEFI(t *testing.T) []byte {
	t.Helper()
	const iso = "/usr/lib/memtest86+/memtest86+x64.iso"
	needFile(t, iso, "memtest86+")
	d, err := diskfs.Open(iso, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys, err := d.GetFilesystem(0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := fs.ReadFile(fsys.(fs.FS), "EFI/BOOT/bootx64.efi")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

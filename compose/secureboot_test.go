package compose

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"github.com/usbkit/compose/compose/pin"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/bootloader/assets"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// mok makes a key pair the way README tells users to (openssl req … -nodes).
func mok(t testing.TB, dir, name, subject string) (key, cert string) {
	t.Helper()
	key, cert = filepath.Join(dir, name+".key"), filepath.Join(dir, name+".crt")
	testenv.Run(t, "openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "30",
		"-subj", subject, "-keyout", key, "-out", cert)
	return key, cert
}

// vendorISO is a live ISO whose kernel (a PE image: Debian's grubx64.efi with its signature
// removed) is signed with sbsign by a vendor key made for the test.
func vendorISO(t *testing.T, dir, key, cert string) string {
	t.Helper()
	tree := filepath.Join(dir, "vendor-tree")
	os.MkdirAll(filepath.Join(tree, "live"), 0o755)
	pe, err := assets.Read(assets.GrubX64)
	if err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "vmlinuz.raw")
	if err := os.WriteFile(raw, pe, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "sbattach", "--remove", raw)
	testenv.Run(t, "sbsign", "--key", key, "--cert", cert, "--output", filepath.Join(tree, "live/vmlinuz"), raw)
	for _, f := range []string{"live/initrd.img", "live/filesystem.squashfs"} {
		os.WriteFile(filepath.Join(tree, f), []byte(f), 0o644)
	}
	iso := filepath.Join(dir, "vendor.iso")
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", "VENDOR", "-R", "-J", "--modification-date=2020010100000000", "-o", iso, tree)
	return iso
}

func espFile(t *testing.T, img string, p *Plan, path string) []byte {
	t.Helper()
	esp := partitionOf(t, p, "fat32")
	out := filepath.Join(t.TempDir(), "f")
	testenv.Run(t, "mcopy", "-n", "-i", img+"@@"+strconv.FormatInt(esp.Offset, 10), "::"+path, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const memtestISO = "/usr/lib/memtest86+/memtest86+x64.iso"

// TestSecureBootKit: a kit with a vendor-signed kernel and memtest86+ (unsigned) carries
// the vendor's certificate and the user's, signs memtest86+'s loader with the user's key
// (sbverify checks it), loads that copy, and names the keys in the MokManager entry.
func TestSecureBootKit(t *testing.T) {
	testenv.Tools(t, "xorriso", "mcopy", "openssl", "sbsign", "sbattach", "sbverify")
	if _, err := os.Stat(memtestISO); err != nil {
		missingFile(t, memtestISO, "memtest86+")
	}
	dir := t.TempDir()
	vkey, vcert := mok(t, dir, "vendor", "/O=Vendorcorp Ltd./CN=Vendorcorp Secure Boot Signing")
	vendor := vendorISO(t, dir, vkey, vcert)
	mok(t, dir, "MOK", "/CN=My MOK/")
	memtest := filepath.Join(dir, "memtest.iso")
	if err := os.Symlink(memtestISO, memtest); err != nil {
		t.Fatal(err)
	}
	m := kitWith(t, dir, "firmware: [uefi-x64]\nsecure_boot:\n  sign_with: {key: MOK.key, cert: MOK.crt}", vendor, memtest)
	img := filepath.Join(dir, "kit.img")
	p := build(t, m, filepath.Join(dir, "cache"), img)

	if len(p.Keys) != 2 || p.Keys[0].Path != "/EFI/compose/keys/vendorcorp.cer" || p.Keys[1].Path != "/EFI/compose/keys/my.cer" {
		t.Fatalf("keys on the stick: %+v", p.Keys)
	}
	want, _ := pem.Decode(must(os.ReadFile(vcert)))
	if got := espFile(t, img, p, "/EFI/compose/keys/vendorcorp.cer"); !bytes.Equal(got, want.Bytes) {
		t.Errorf("vendorcorp.cer on the ESP is not the vendor's DER certificate")
	}
	if c, _ := x509.ParseCertificate(want.Bytes); p.Keys[0].SHA256 != bootloader.Fingerprint(c) {
		t.Errorf("fingerprint %s", p.Keys[0].SHA256)
	}
	v := p.Entries[0].SecureBootPlan
	if v == nil || v.Copy != "" || len(v.Enrol) != 1 || v.Enrol[0].Name != "vendorcorp" || !strings.Contains(v.Action, "enrol once with MokManager") {
		t.Errorf("vendor entry: %+v", v)
	}
	mt := p.Entries[1].SecureBootPlan
	if mt == nil || !mt.Signed || mt.Copy != "/EFI/compose/signed/memtest/bootx64.efi" || mt.Enrol[0].Name != "my" {
		t.Fatalf("memtest entry: %+v", mt)
	}
	signed := filepath.Join(dir, "signed.efi")
	os.WriteFile(signed, espFile(t, img, p, mt.Copy), 0o644)
	testenv.Run(t, "sbverify", "--cert", filepath.Join(dir, "MOK.crt"), signed)
	cfg := string(espFile(t, img, p, bootloader.ConfigPath))
	for _, s := range []string{
		`chainloader "(${compose_root})/EFI/compose/signed/memtest/bootx64.efi"`,
		`linux '(iso1)/live/vmlinuz'`,
		`menuentry 'MOK manager: enroll /EFI/compose/keys/vendorcorp.cer, my.cer'`,
	} {
		if !strings.Contains(cfg, s) {
			t.Errorf("grub.cfg lacks %s:\n%s", s, cfg)
		}
	}
}

// TestSecureBootEnroll: enroll restricts the set to what it names (a vendor left out is
// then signed with sign_with), adds the user's files, and names nothing unknown.
func TestSecureBootEnroll(t *testing.T) {
	testenv.Tools(t, "xorriso", "openssl", "sbsign", "sbattach")
	dir := t.TempDir()
	vkey, vcert := mok(t, dir, "vendor", "/O=Vendorcorp Ltd./CN=Vendorcorp Secure Boot Signing")
	vendor := vendorISO(t, dir, vkey, vcert)
	mok(t, dir, "MOK", "/CN=My MOK/")
	mok(t, dir, "extra", "/O=Lab/CN=Lab key/")
	ctx := context.Background()
	plan := func(top string) (*Plan, error) {
		m := kitWith(t, dir, "firmware: [uefi-x64]\n"+top, vendor)
		f := newFetcher(t, filepath.Join(dir, "cache"))
		l, err := pin.ResolveLock(ctx, m, f)
		if err != nil {
			t.Fatal(err)
		}
		return MakePlan(ctx, m, l, f, filepath.Join(dir, "kit.img"))
	}
	p, err := plan("secure_boot:\n  enroll: [extra.crt]\n  sign_with: {key: MOK.key, cert: MOK.crt}")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Keys) != 2 || p.Keys[0].Name != "extra" || p.Keys[1].Name != "my" {
		t.Errorf("keys: %+v", p.Keys)
	}
	if sb := p.Entries[0].SecureBootPlan; sb == nil || !sb.Signed || sb.Copy != "/EFI/compose/signed/vendor/vmlinuz" {
		t.Errorf("a vendor left out of enroll must be signed with sign_with: %+v", sb)
	}
	_, err = plan("secure_boot:\n  enroll: [vendorcorp, canonical]")
	if err == nil || !strings.Contains(err.Error(), `multiboot.yaml:5:24: secure_boot.enroll[1]: no ISO of this kit is signed by a certificate named "canonical" (the kit's certificates: vendorcorp)`) {
		t.Errorf("unknown name: %v", err)
	}
	p, err = plan("secure_boot:\n  enroll: []")
	if err != nil || len(p.Keys) != 0 || p.Entries[0].SecureBootPlan != nil || !strings.Contains(strings.Join(p.Warnings, "\n"), "whose certificate secure_boot.enroll leaves out") {
		t.Errorf("empty enroll: %+v, %v", p, err)
	}
	_, err = plan("secure_boot:\n  sign_with: {key: nope.key, cert: MOK.crt}")
	if err == nil || !strings.Contains(err.Error(), "multiboot.yaml:5:20: secure_boot.sign_with.key: private key: open "+dir+"/nope.key: no such file") {
		t.Errorf("missing key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "kit.img")); !os.IsNotExist(err) {
		t.Errorf("plan wrote the image")
	}
}

func missingFile(t *testing.T, path, pkg string) {
	t.Helper()
	testenv.Skip(t, "%s missing (Debian package %s)", path, pkg)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

package fetch

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

var (
	d256 = strings.Repeat("ab", 32)
	d512 = strings.Repeat("cd", 64)
)

// Real lists, as published (digests shortened to d256/d512 stand-ins),
// and hostile ones. A line matches only the ISO's path relative to the
// list's directory: "small.iso", "./small.iso" and "*small.iso" name the
// file beside the list; "other/small.iso" names another directory's file
// and counts only for an ISO that lies there.
func TestChecksumListLines(t *testing.T) {
	const (
		deb    = "https://cdimage.example/debian-cd/12.5.0/amd64/iso-cd/"
		ubuntu = "https://releases.example/24.04/"
		fedora = "https://dl.example/fedora/releases/40/Workstation/x86_64/iso/"
		arch   = "https://geo.mirror.example/iso/2024.06.01/"
	)
	z64, o64 := strings.Repeat("0", 64), strings.Repeat("1", 64)
	fedoraList := "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n" +
		"# Fedora-Workstation-Live-x86_64-40-1.14.iso: 2295853056 bytes\n" +
		"SHA256 (Fedora-Workstation-Live-x86_64-40-1.14.iso) = " + d256 + "\n" +
		"-----BEGIN PGP SIGNATURE-----\n\niQIzBAEBCAAdFiEEEV35rO+K\n=abcd\n-----END PGP SIGNATURE-----\n"
	cases := []struct{ name, list, listURL, iso, alg, digest, err string }{
		{"debian SHA256SUMS", z64 + "  debian-12.5.0-amd64-netinst.iso\n" + d256 + "  debian-edu-12.5.0-amd64-netinst.iso\n" + o64 + "  debian-mac-12.5.0-amd64-netinst.iso\n",
			deb + "SHA256SUMS", deb + "debian-edu-12.5.0-amd64-netinst.iso", "sha256", d256, ""},
		{"debian SHA512SUMS", strings.ToUpper(d512) + "  debian-12.5.0-amd64-netinst.iso\n",
			deb + "SHA512SUMS", deb + "debian-12.5.0-amd64-netinst.iso", "sha512", d512, ""},
		{"ubuntu SHA256SUMS, binary mode", d256 + " *ubuntu-24.04-desktop-amd64.iso\n" + z64 + " *ubuntu-24.04-live-server-amd64.iso\n",
			ubuntu + "SHA256SUMS", ubuntu + "ubuntu-24.04-desktop-amd64.iso", "sha256", d256, ""},
		{"fedora CHECKSUM, BSD, clearsigned", fedoraList,
			fedora + "Fedora-Workstation-40-1.14-x86_64-CHECKSUM", fedora + "Fedora-Workstation-Live-x86_64-40-1.14.iso", "sha256", d256, ""},
		{"arch sha256sums.txt", z64 + "  archlinux-2024.06.01-x86_64.iso\n" + o64 + "  archlinux-bootstrap-2024.06.01-x86_64.tar.zst\n" + d256 + "  archlinux-x86_64.iso\n",
			arch + "sha256sums.txt", arch + "archlinux-x86_64.iso", "sha256", d256, ""},
		{"both algorithms: sha512 wins", "SHA256 (a.iso) = " + d256 + "\nSHA512 (a.iso) = " + d512 + "\n", "https://h/SUMS", "https://h/a.iso", "sha512", d512, ""},
		{"./ prefix", d256 + "  ./small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "sha256", d256, ""},
		{"binary mode and ./", d256 + " *./small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "sha256", d256, ""},
		{"CRLF and a byte order mark", "\ufeff" + d256 + "  small.iso\r\n", "https://h/d/SUMS", "https://h/d/small.iso", "sha256", d256, ""},
		{"subdirectory, ISO in it", d256 + "  images/small.iso\n" + z64 + "  small.iso\n", "https://h/rel/SHA256SUMS", "https://h/rel/images/small.iso", "sha256", d256, ""},
		{"ISO on a mirror: its file name", d256 + "  small.iso\n", "https://vendor/rel/SUMS", "https://mirror/pub/rel/small.iso", "sha256", d256, ""},
		{"local list and path", d256 + "  small.iso\n", "/srv/kit/SUMS", "/srv/kit/small.iso", "sha256", d256, ""},
		{"escaped name", "\\" + d256 + "  a\\\\b.iso\n", "/srv/SUMS", "/srv/a\\b.iso", "sha256", d256, ""},
		{"URL-escaped ISO name", d256 + "  x y.iso\n", "https://h/d/SUMS", "https://h/d/x%20y.iso?mirror=1", "sha256", d256, ""},

		{"other directory's file", d256 + "  other/small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "", "", `no line for small.iso (its path relative to the list's directory); "other/small.iso" names another directory's file`},
		{"bare name for a file in a subdirectory", d256 + "  small.iso\n", "https://h/rel/SUMS", "https://h/rel/images/small.iso", "", "", "no line for images/small.iso"},
		{"parent directory", d256 + "  ../small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "", "", "no line for small.iso"},
		{"absolute path", d256 + "  /d/small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "", "", "no line for small.iso"},
		{"dot-dot inside", d256 + "  x/../small.iso\n", "https://h/d/SUMS", "https://h/d/small.iso", "", "", "no line for small.iso"},
		{"mirror with a directory in the line", d256 + "  images/small.iso\n", "https://vendor/rel/SUMS", "https://mirror/rel/images/small.iso", "", "", "no line for small.iso"},
		{"longer name", d256 + "  small.iso.zsync\n" + d256 + "  xsmall.iso\n", "https://h/SUMS", "https://h/small.iso", "", "", "no line for small.iso"},
		{"md5 only", "MD5 (a.iso) = d41d8cd98f00b204e9800998ecf8427e\n", "https://h/SUMS", "https://h/a.iso", "", "", "only md5"},
		{"conflict", d256 + "  a.iso\n" + o64 + "  ./a.iso\n", "https://h/SUMS", "https://h/a.iso", "", "", "two different"},
		{"single space is no GNU line", d256 + " a.iso\n", "https://h/SUMS", "https://h/a.iso", "", "", "no line for a.iso"},
		{"line too long", strings.Repeat("a", 2<<20) + "\n", "https://h/SUMS", "https://h/a.iso", "", "", "reading the list"},
	}
	for _, c := range cases {
		alg, d, err := pickDigest([]byte(c.list), ListName(c.listURL, c.iso))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: want error %q, got %v (%s %s)", c.name, c.err, err, alg, d)
			}
			continue
		}
		if err != nil || alg != c.alg || d != c.digest {
			t.Errorf("%s: got %s %s %v", c.name, alg, d, err)
		}
	}
}

type signer struct {
	e   *openpgp.Entity
	pub string // armored public key
	fp  string
}

func newSigner(t *testing.T, name string) signer {
	t.Helper()
	e, err := openpgp.NewEntity(name, "", name+"@test.invalid", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := armor.Encode(&b, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	return signer{e: e, pub: b.String(), fp: fingerprint(e)}
}

func (s signer) detached(t *testing.T, msg []byte, armored bool) []byte {
	var b bytes.Buffer
	sign := openpgp.DetachSign
	if armored {
		sign = openpgp.ArmoredDetachSign
	}
	if err := sign(&b, s.e, bytes.NewReader(msg), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (s signer) clearsigned(t *testing.T, msg []byte) []byte {
	var b bytes.Buffer
	w, err := clearsign.Encode(&b, s.e.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(msg)
	w.Close()
	return b.Bytes()
}

func TestResolveListSigned(t *testing.T) {
	good, evil := newSigner(t, "release"), newSigner(t, "mallory")
	list := []byte(d256 + "  debian.iso\n" + d512 + "  big.iso\n")
	tampered := bytes.Replace(list, []byte("ab"), []byte("ac"), 1)
	files := map[string][]byte{
		"/SHA256SUMS":        list,
		"/SHA256SUMS.sign":   good.detached(t, list, false),
		"/SHA256SUMS.asc":    good.detached(t, list, true),
		"/evil.sign":         evil.detached(t, list, false),
		"/tampered":          tampered,
		"/CHECKSUM":          good.clearsigned(t, list),
		"/CHECKSUM-evil":     evil.clearsigned(t, list),
		"/CHECKSUM-tampered": bytes.Replace(good.clearsigned(t, list), []byte("ab"), []byte("ac"), 1),
		"/keys.asc":          []byte(evil.pub + good.pub),
	}
	srv := serveFiles(t, files)
	keyFile := filepath.Join(t.TempDir(), "release.asc")
	os.WriteFile(keyFile, []byte(good.pub), 0o644)
	u := func(p string) string { return srv.URL + p }
	sig := func(url string) *Signature { return &Signature{URL: url, Fingerprint: good.fp, KeyFile: keyFile} }

	cases := []struct {
		name, list, file string
		sig              *Signature
		alg, err         string
	}{
		{"unsigned", "/SHA256SUMS", "debian.iso", nil, "sha256", ""},
		{"detached binary", "/SHA256SUMS", "debian.iso", sig(u("/SHA256SUMS.sign")), "sha256", ""},
		{"detached armored, key by URL among others", "/SHA256SUMS", "big.iso",
			&Signature{URL: u("/SHA256SUMS.asc"), Fingerprint: strings.ToLower(good.fp), KeyURL: u("/keys.asc")}, "sha512", ""},
		{"clearsigned", "/CHECKSUM", "debian.iso", sig(""), "sha256", ""},
		{"clearsigned, unchecked", "/CHECKSUM", "debian.iso", nil, "sha256", ""},
		{"wrong key", "/SHA256SUMS", "debian.iso", sig(u("/evil.sign")), "", "bad signature"},
		{"wrong key, key ring holds it", "/SHA256SUMS", "debian.iso",
			&Signature{URL: u("/evil.sign"), Fingerprint: good.fp, KeyURL: u("/keys.asc")}, "", "bad signature"},
		{"clearsigned by wrong key", "/CHECKSUM-evil", "debian.iso", sig(""), "", "bad signature"},
		{"tampered list", "/tampered", "debian.iso", sig(u("/SHA256SUMS.sign")), "", "bad signature"},
		{"tampered clearsigned", "/CHECKSUM-tampered", "debian.iso", sig(""), "", "bad signature"},
		{"signature missing", "/SHA256SUMS", "debian.iso", sig(u("/SHA256SUMS.gpg")), "", "404"},
		{"no signature given", "/SHA256SUMS", "debian.iso", sig(""), "", "not clearsigned"},
		{"fingerprint not in key file", "/SHA256SUMS", "debian.iso",
			&Signature{URL: u("/SHA256SUMS.sign"), Fingerprint: evil.fp, KeyFile: keyFile}, "", "no key with fingerprint"},
		{"missing line", "/SHA256SUMS", "arch.iso", sig(u("/SHA256SUMS.sign")), "", "no line for arch.iso"},
	}
	f := newTestFetcher(t, t.TempDir(), nil)
	for _, c := range cases {
		alg, d, err := f.ResolveList(context.Background(), u(c.list), c.file, c.sig)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), c.list) {
				t.Errorf("%s: want error with %q and the list URL, got %v", c.name, c.err, err)
			}
			continue
		}
		want := map[string]string{"sha256": d256, "sha512": d512}[c.alg]
		if err != nil || alg != c.alg || d != want {
			t.Errorf("%s: got %s %s %v", c.name, alg, d, err)
		}
	}
}

// FuzzPickDigest: any list and name, without panicking; a digest returned
// comes from a line that names exactly that file.
func FuzzPickDigest(f *testing.F) {
	f.Add([]byte(d256+"  small.iso\n"), "small.iso")
	f.Add([]byte(d256+" *./other/small.iso\r\n"), "small.iso")
	f.Add([]byte("SHA512 (a b.iso) = "+d512+"\n\\"+d256+"  a\\\\b\\n.iso\n"), "a\\b\n.iso")
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nSHA256 (x.iso) = "+d256+"\n"), "x.iso")
	f.Fuzz(func(t *testing.T, list []byte, name string) {
		alg, d, err := pickDigest(list, name)
		if err != nil {
			return
		}
		if checkDigest(alg, d) != nil {
			t.Fatalf("returned %s %q", alg, d)
		}
		for _, line := range strings.Split(strings.TrimPrefix(string(list), "\ufeff"), "\n") {
			a, h, entry, ok := parseListLine(strings.TrimSpace(line))
			for strings.HasPrefix(entry, "./") {
				entry = entry[2:]
			}
			if ok && a == alg && h == d && entry == name {
				return
			}
		}
		t.Fatalf("%s %s for %q comes from no line naming it", alg, d, name)
	})
}

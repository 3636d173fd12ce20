package fetch

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
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

func TestPickDigest(t *testing.T) {
	cases := []struct{ name, list, file, alg, digest, err string }{
		{"gnu text", d256 + "  debian-12.iso\n" + strings.Repeat("0", 64) + "  other.iso\n", "debian-12.iso", "sha256", d256, ""},
		{"gnu binary, path in URL", strings.ToUpper(d512) + " *ubuntu.iso\n", "https://h/dir/ubuntu.iso", "sha512", d512, ""},
		{"gnu subdir", d256 + "  ./images/x.iso\n", "x.iso", "sha256", d256, ""},
		{"bsd", "# Fedora\nSHA256 (Fedora.iso) = " + d256 + "\nSHA512 (Fedora.iso) = " + d512 + "\n", "Fedora.iso", "sha512", d512, ""},
		{"missing line", d256 + "  a.iso\n", "b.iso", "", "", "no line for b.iso"},
		{"md5 only", "MD5 (a.iso) = d41d8cd98f00b204e9800998ecf8427e\n", "a.iso", "", "", "only md5"},
		{"conflict", d256 + "  a.iso\n" + strings.Repeat("1", 64) + "  a.iso\n", "a.iso", "", "", "two different"},
		{"prefix name is no match", d256 + "  a.iso.zsync\n", "a.iso", "", "", "no line"},
	}
	for _, c := range cases {
		alg, d, err := pickDigest([]byte(c.list), c.file)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: want error %q, got %v", c.name, c.err, err)
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
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

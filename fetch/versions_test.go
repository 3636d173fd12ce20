package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/config/version"
)

// Lines as Debian's SHA256SUMS and Fedora's CHECKSUM write them.
func debianSums(v string) string {
	return d256 + "  debian-" + v + "-amd64-netinst.iso\n" +
		d256 + "  debian-edu-" + v + "-amd64-netinst.iso\n" +
		d256 + "  debian-mac-" + v + "-amd64-netinst.iso\n"
}

func TestNewestVersion(t *testing.T) {
	good, evil := newSigner(t, "release"), newSigner(t, "mallory")
	two := debianSums("12.9.0") + debianSums("12.10.0")
	fedora := "# Fedora-Workstation-Live-x86_64-41-1.4.iso: 2275409920 bytes\nSHA256 (Fedora-Workstation-Live-x86_64-41-1.4.iso) = " + d256 + "\n"
	rocky, _ := os.ReadFile(filepath.Join("testdata", "index", "apache-pre.html"))
	notIndex, _ := os.ReadFile(filepath.Join("testdata", "index", "notindex.html"))
	files := map[string][]byte{
		"/current/SHA256SUMS":      []byte(debianSums("12.9.0")),
		"/current/SHA256SUMS.sign": good.detached(t, []byte(debianSums("12.9.0")), false),
		"/evil/SHA256SUMS":         []byte(debianSums("12.99.0")),
		"/evil/SHA256SUMS.sign":    evil.detached(t, []byte(debianSums("12.99.0")), false),
		"/two/SHA256SUMS":          []byte(two),
		"/same/SHA256SUMS":         []byte(debianSums("12.9") + debianSums("12.9.0")),
		"/fedora/CHECKSUM":         good.clearsigned(t, []byte(fedora)),
		"/pub/rocky/":              rocky,
		"/cdimage/release/":        debianIndex(),
		"/releases/":               notIndex,
	}
	srv := serveFiles(t, files)
	keyFile := filepath.Join(t.TempDir(), "release.asc")
	os.WriteFile(keyFile, []byte(good.pub), 0o644)
	u := func(p string) string { return srv.URL + p }
	sig := func(url string) *Signature { return &Signature{URL: url, Fingerprint: good.fp, KeyFile: keyFile} }
	deb := func(dir string) string { return u(dir + "/debian-{version}-amd64-netinst.iso") }
	rockyURL := u("/pub/rocky/{version}/isos/x86_64/Rocky-{version}-x86_64-minimal.iso")

	for _, c := range []struct {
		name, url, list string
		sig             *Signature
		constraint      string
		want, err       string
	}{
		{"one release, edu and mac flavours not taken", deb("/current"), "/current/SHA256SUMS", nil, "", "12.9.0", ""},
		{"signed", deb("/current"), "/current/SHA256SUMS", sig(u("/current/SHA256SUMS.sign")), "", "12.9.0", ""},
		{"signed by another key: no name trusted", deb("/evil"), "/evil/SHA256SUMS", sig(u("/evil/SHA256SUMS.sign")), "", "", "bad signature"},
		{"12.10 is newer than 12.9", deb("/two"), "/two/SHA256SUMS", nil, "", "12.10.0", ""},
		{"constraint keeps the line", deb("/two"), "/two/SHA256SUMS", nil, "12.9.*", "12.9.0", ""},
		{"exact", deb("/two"), "/two/SHA256SUMS", nil, "12.9.0", "12.9.0", ""},
		{"constraint unmet", deb("/two"), "/two/SHA256SUMS", nil, "13.*", "", "none of the versions in the checksum list " + u("/two/SHA256SUMS") + " (12.9.0, 12.10.0) meets version: 13.*"},
		{"ambiguous", deb("/same"), "/same/SHA256SUMS", nil, "", "", "ambiguous: 12.9 and 12.9.0"},
		{"no name matches", u("/current/ubuntu-{version}-live-server-amd64.iso"), "/current/SHA256SUMS", nil, "", "", "none of its 3 names matches ubuntu-{version}-live-server-amd64.iso"},
		{"BSD lines, clearsigned", u("/fedora/Fedora-Workstation-Live-x86_64-{version}.iso"), "/fedora/CHECKSUM", sig(""), "", "41-1.4", ""},
		{"directory index", rockyURL, "", nil, "", "9.5", ""},
		{"directory index, constrained", rockyURL, "", nil, "8.*", "8.10", ""},
		{"directory index, constraint unmet", rockyURL, "", nil, ">=10", "", "(8, 8.10, 9, 9.4, 9.5) meets version: >=10"},
		{"a -live directory is not a release", u("/cdimage/release/{version}/amd64/iso-cd/debian-{version}-amd64-netinst.iso"), "", nil, "", "12.9.0", ""},
		{"unless asked for", u("/cdimage/release/{version}/amd64/iso-hybrid/debian-live-12.10.0-amd64-kde.iso"), "", nil, ">=12.10.0-live", "12.10.0-live", ""},
		{"not an index page", u("/releases/{version}/x.iso"), "", nil, "", "", u("/releases/") + ": not a directory index page"},
		{"index missing", u("/nowhere/{version}/x.iso"), "", nil, "", "", "directory index " + u("/nowhere/") + ": server answered 404 Not Found"},
	} {
		q := VersionQuery{URL: c.url, ListURL: u(c.list), Signature: c.sig}
		if c.constraint != "" {
			var err error
			if q.Constraint, err = version.ParseConstraint(c.constraint); err != nil {
				t.Fatal(err)
			}
		}
		f := newTestFetcher(t, t.TempDir(), nil)
		got, err := f.NewestVersion(context.Background(), q)
		switch {
		case c.err == "" && (err != nil || got != c.want):
			t.Errorf("%s: got %q %v, want %s", c.name, got, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: got %q %v, want error with %q", c.name, got, err, c.err)
		}
		if strings.HasPrefix(c.name, "constraint unmet") && !errors.Is(err, ErrNoVersion) {
			t.Errorf("%s: %v is not ErrNoVersion", c.name, err)
		}
	}
}

// debianIndex is the release index with a -live directory newer than the
// newest release (live images are published hours after the release).
func debianIndex() []byte {
	b, _ := os.ReadFile(filepath.Join("testdata", "index", "apache-table.html"))
	row := `<tr><td valign="top"><img src="/icons/folder.gif" alt="[DIR]"></td><td><a href="12.10.0-live/">12.10.0-live/</a></td><td align="right">2025-03-15 18:02  </td><td align="right">  - </td><td>&nbsp;</td></tr>` + "\n"
	return []byte(strings.Replace(string(b), "   <tr><th colspan=\"5\"><hr></th></tr>\n</table>", row+"   <tr><th colspan=\"5\"><hr></th></tr>\n</table>", 1))
}

// serveFiles serves files by path on 127.0.0.1 until the test ends; any
// other path is 404.
func serveFiles(t *testing.T, files map[string][]byte) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

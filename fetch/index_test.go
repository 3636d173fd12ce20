package fetch

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// Index pages as Apache (table and <pre> layouts), nginx and lighttpd
// serve them: only the entries count, not the sorting, parent or
// absolute links, and nginx's truncated link text does not matter.
func TestParseIndex(t *testing.T) {
	d := func(n string) IndexEntry { return IndexEntry{Name: n, Dir: true} }
	f := func(n string) IndexEntry { return IndexEntry{Name: n} }
	for _, c := range []struct {
		file string
		want []IndexEntry
	}{
		{"apache-table.html", []IndexEntry{d("12.8.0"), d("12.9.0"), d("12.9.0-live"), d("current"), d("current-live"), d("project")}},
		{"apache-pre.html", []IndexEntry{d("8"), d("8.10"), d("9"), d("9.4"), d("9.5"), f("RPM-GPG-KEY-Rocky-9")}},
		{"nginx.html", []IndexEntry{d("39"), d("40"), d("41"), d("test"), f("Fedora-Workstation-Live-x86_64-41-1.4-a-rather-long-name.iso")}},
		{"lighttpd.html", []IndexEntry{d("15.5"), d("15.6"), d("16.0 beta"), f("README.txt")}},
	} {
		page, err := os.ReadFile(filepath.Join("testdata", "index", c.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseIndex("https://mirror.example.org/x/", page)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v %v\nwant %v", c.file, got, err, c.want)
		}
	}
}

// A page that is no autoindex (a vendor's download page with links) is an
// error naming the page, never a guess from its links.
func TestParseIndexRefuses(t *testing.T) {
	page, err := os.ReadFile(filepath.Join("testdata", "index", "notindex.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{page, []byte("SHA256 (x.iso) = 00\n"), nil} {
		_, err := ParseIndex("https://h/releases/", p)
		if !errors.Is(err, ErrNotIndex) || err.Error() != "https://h/releases/: not a directory index page (Apache, nginx or lighttpd autoindex)" {
			t.Errorf("%q: %v", p, err)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	for _, n := range []string{"apache-table.html", "apache-pre.html", "nginx.html", "lighttpd.html"} {
		b, _ := os.ReadFile(filepath.Join("testdata", "index", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, page []byte) {
		es, err := ParseIndex("https://h/", page)
		for _, e := range es {
			if err != nil || e.Name == "" || e.Name == ".." || filepath.Base(e.Name) != e.Name {
				t.Fatalf("entry %q (err %v)", e.Name, err)
			}
		}
	})
}

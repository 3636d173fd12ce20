package fetch

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
)

// IndexEntry is one link of a directory index page.
type IndexEntry struct {
	Name string // unescaped, without the trailing slash
	Dir  bool   // the link ends in "/"
}

// ErrNotIndex is matched (errors.Is) when a page is not an autoindex page
// of a server compose knows.
var ErrNotIndex = errors.New("not a directory index page (Apache, nginx or lighttpd autoindex)")

// indexFormat is one server's autoindex page: how to recognise it and the
// pattern of an entry's link (the href in group 1).
type indexFormat struct {
	server string
	is     func(page string) bool
	row    *regexp.Regexp
}

var indexFormats = []indexFormat{
	{"lighttpd", func(p string) bool {
		return strings.Contains(p, `summary="Directory Listing"`) || strings.Contains(p, `<div class="foot">lighttpd`)
	}, regexp.MustCompile(`<td class="n"><a href="([^"]*)">`)},
	{"nginx", func(p string) bool {
		return strings.Contains(p, "<title>Index of ") && strings.Contains(p, `<pre><a href="../">../</a>`)
	}, regexp.MustCompile(`(?m)^<a href="([^"]*)">`)},
	// Apache's mod_autoindex: a table (HTMLTable), <pre> rows after an
	// icon (FancyIndexing) or a plain <ul>.
	{"Apache", func(p string) bool {
		return strings.Contains(p, "<title>Index of ") &&
			(strings.Contains(p, "Parent Directory</a>") || strings.Contains(p, "<address>Apache"))
	}, regexp.MustCompile(`(?:<td>|<li>|"> ?)<a href="([^"]*)">`)},
}

// ParseIndex reads the entries of an autoindex page served for the
// directory at base (for messages). Links that sort the page (?C=N;O=D),
// lead up (../, Parent Directory) or elsewhere (/…, http:…) are not
// entries. A page no format recognises is ErrNotIndex.
func ParseIndex(base string, page []byte) ([]IndexEntry, error) {
	p := string(page)
	for _, f := range indexFormats {
		if !f.is(p) {
			continue
		}
		var out []IndexEntry
		for _, m := range f.row.FindAllStringSubmatch(p, -1) {
			if e, ok := indexEntry(m[1]); ok {
				out = append(out, e)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: %w", redact(base), ErrNotIndex)
}

// indexEntry turns an href into an entry; ok false for links that are not
// one (sorting, parent, absolute, another directory's file).
func indexEntry(href string) (IndexEntry, bool) {
	h := html.UnescapeString(href)
	h = strings.TrimPrefix(h, "./")
	if h == "" || strings.ContainsAny(h, "?#:") || strings.HasPrefix(h, "/") || strings.HasPrefix(h, "..") {
		return IndexEntry{}, false
	}
	name, dir := strings.CutSuffix(h, "/")
	name, err := url.PathUnescape(name)
	if err != nil || name == "" || name == "." || strings.Contains(name, "/") {
		return IndexEntry{}, false
	}
	return IndexEntry{Name: name, Dir: dir}, true
}

// ReadIndex fetches the index page of the directory at dirURL (http or
// https, ending in "/") and parses it.
func (f *Fetcher) ReadIndex(ctx context.Context, dirURL string) ([]IndexEntry, error) {
	page, err := f.getSmall(ctx, dirURL)
	if err != nil {
		return nil, fmt.Errorf("directory index %s: %w", redact(dirURL), err)
	}
	return ParseIndex(dirURL, page)
}

package fetch

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/usbkit/compose/config/version"
)

// Placeholder is what stands for the version in a VersionQuery's URLs.
const Placeholder = "{version}"

// VersionQuery asks for the newest release of a file whose URL holds
// Placeholder.
type VersionQuery struct {
	// URL is the file's URL. With the placeholder in a directory
	// (…/releases/{version}/…) the versions are the matching directories of
	// the parent's index page; with it only in the file name they are the
	// matching names in the checksum list at ListURL.
	URL     string
	ListURL string
	// Signature, when set, is checked on the list before its names are
	// trusted.
	Signature  *Signature
	Constraint version.Constraint
}

// ErrNoLine is matched (errors.Is) when a checksum list has no line for
// the file asked about.
var ErrNoLine = errors.New("no line for the file in the checksum list")

// noLine is an ErrNoLine with its own words.
type noLine string

func (e noLine) Error() string        { return string(e) }
func (e noLine) Is(target error) bool { return target == ErrNoLine }

// ErrNoVersion is matched (errors.Is) when versions were found but the
// constraint admits none of them.
var ErrNoVersion = errors.New("no version meets the constraint")

// NewestVersion resolves q to the newest version its constraint admits;
// a version with a word (12.9.0-rc1, 12.10.0-live) only when the
// constraint names one.
// It is an error when nothing matches the placeholder, when the
// constraint admits no version found (ErrNoVersion), and when two
// different names give the newest version (12.9 and 12.9.0): compose does
// not guess.
func (f *Fetcher) NewestVersion(ctx context.Context, q VersionQuery) (string, error) {
	var found []string
	var where string
	var err error
	if dir, seg, ok := placeholderDir(q.URL); ok {
		where = "the directory index " + redact(dir)
		found, err = f.indexVersions(ctx, dir, seg)
	} else {
		where = "the checksum list " + redact(q.ListURL)
		found, err = f.listVersions(ctx, q)
	}
	if err != nil {
		return "", err
	}
	return newest(found, q.Constraint, where, q.URL)
}

// placeholderDir splits a URL whose placeholder stands in a directory
// into the parent's URL (ending in "/") and that directory's name pattern.
func placeholderDir(u string) (dir, seg string, ok bool) {
	i := strings.Index(u, Placeholder)
	last := strings.LastIndex(strings.SplitN(u, "?", 2)[0], "/")
	if i < 0 || i > last {
		return "", "", false
	}
	start := strings.LastIndex(u[:i], "/") + 1
	end := start + strings.Index(u[start:], "/")
	return u[:start], u[start:end], true
}

// namePattern turns a name with the placeholder into an anchored
// expression whose groups are the versions.
func namePattern(name string) *regexp.Regexp {
	parts := strings.Split(name, Placeholder)
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	return regexp.MustCompile("^" + strings.Join(parts, "("+version.Pattern+")") + "$")
}

// match is the version name gives under re, or "" (every placeholder
// must stand for the same text).
func match(re *regexp.Regexp, name string) string {
	m := re.FindStringSubmatch(name)
	if m == nil {
		return ""
	}
	for _, g := range m[2:] {
		if g != m[1] {
			return ""
		}
	}
	return m[1]
}

func (f *Fetcher) indexVersions(ctx context.Context, dir, seg string) ([]string, error) {
	entries, err := f.ReadIndex(ctx, dir)
	if err != nil {
		return nil, err
	}
	re := namePattern(seg)
	var out []string
	for _, e := range entries {
		if v := match(re, e.Name); v != "" && e.Dir {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no directory in the index %s matches %s/ (%d entries)", redact(dir), seg, len(entries))
	}
	return out, nil
}

func (f *Fetcher) listVersions(ctx context.Context, q VersionQuery) (out []string, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("checksum list %s: %w", redact(q.ListURL), err)
		}
	}()
	list, err := f.getSmall(ctx, q.ListURL)
	if err != nil {
		return nil, err
	}
	if list, err = f.checkSignature(ctx, list, q.Signature); err != nil {
		return nil, err
	}
	name := ListName(q.ListURL, q.URL)
	re := namePattern(name)
	lines := 0
	err = eachListLine(list, func(_, _, entry string) error {
		lines++
		if v := match(re, entry); v != "" {
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("none of its %d names matches %s", lines, name)
	}
	return out, nil
}

// newest picks the newest of found that c admits.
func newest(found []string, c version.Constraint, where, url string) (string, error) {
	var best []version.Version
	var all []string
	seen := map[string]bool{}
	for _, s := range found {
		v, err := version.Parse(s)
		if err != nil || seen[s] {
			continue
		}
		seen[s] = true
		all = append(all, s)
		if !c.Admits(v) || (v.Pre() && !c.WantsPre()) {
			continue
		}
		switch {
		case len(best) == 0 || version.Compare(v, best[0]) > 0:
			best = []version.Version{v}
		case version.Compare(v, best[0]) == 0:
			best = append(best, v)
		}
	}
	switch {
	case len(all) == 0:
		return "", fmt.Errorf("no version in %s for %s", where, url)
	case len(best) == 0 && c.Text == "":
		return "", fmt.Errorf("%s has only pre-releases or variants (%s): a version: that names one picks it: %w", where, listSome(all), ErrNoVersion)
	case len(best) == 0:
		return "", fmt.Errorf("none of the versions in %s (%s) meets version: %s: %w", where, listSome(all), c, ErrNoVersion)
	case len(best) > 1:
		return "", fmt.Errorf("ambiguous: %s and %s in %s are the same version; write an exact version: to pick one", best[0], best[1], where)
	}
	return best[0].Text, nil
}

// listSome names up to 6 versions, newest last as the vendor listed them.
func listSome(vs []string) string {
	if len(vs) <= 6 {
		return strings.Join(vs, ", ")
	}
	return strings.Join(vs[:3], ", ") + ", …, " + strings.Join(vs[len(vs)-2:], ", ")
}

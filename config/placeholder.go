package config

import (
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/usbkit/compose/config/version"
)

// Placeholder stands for a release in an ISO's url (and in its checksum
// list's and signature's URLs): compose lock resolves it to the newest
// version its `version:` constraint admits, and the lock pins that.
const Placeholder = "{version}"

// Templated reports whether iso's URL holds the version placeholder.
func (iso *ISO) Templated() bool { return strings.Contains(iso.URL, Placeholder) }

// InDirectory reports whether the placeholder stands in a directory of
// iso's URL (…/releases/{version}/…): the version is then read from the
// parent directory's index page, else from the checksum list's file names.
func (iso *ISO) InDirectory() bool {
	dir, _, _ := strings.Cut(iso.URL, "?")
	if i := strings.LastIndex(dir, "/"); i >= 0 {
		dir = dir[:i]
	}
	return strings.Contains(dir, Placeholder)
}

// Sources is where iso comes from with the placeholder replaced by v: its
// URL, its checksum list's URL and its detached signature's URL ("" when
// there is none).
type Sources struct {
	URL, ListURL, SignatureURL string
}

// At resolves iso's URLs for version v; v "" leaves them as written.
func (iso *ISO) At(v string) Sources {
	sub := func(s string) string {
		if v == "" {
			return s
		}
		return strings.ReplaceAll(s, Placeholder, v)
	}
	out := Sources{URL: sub(iso.URL), ListURL: sub(iso.Checksum.ListURL)}
	if iso.Signature != nil {
		out.SignatureURL = sub(iso.Signature.URL)
	}
	return out
}

// Constraint is iso's parsed `version:` (the zero Constraint admits all).
func (iso *ISO) Constraint() version.Constraint {
	if iso.Version == "" {
		return version.Constraint{}
	}
	c, _ := version.ParseConstraint(iso.Version) // the loader checked it
	return c
}

// constraint checks a `version:` value.
func (d *decoder) constraint(v *yaml.Node, p, s string) bool {
	if _, err := version.ParseConstraint(s); err != nil {
		d.errAt(v, "%s: %v", p, err)
		return false
	}
	return true
}

// placeholderRules checks what {version} and `version:` need: a checksum
// list to resolve against (the file names in it, or a directory index and
// then the list), and a placeholder for a constraint to apply to.
func (d *decoder) placeholderRules(p string, iso *ISO) {
	_, hasVersion := d.pos[p+".version"]
	switch {
	case hasVersion && !iso.Templated() && iso.URL != "":
		d.errPath(p+".version", "%s.version: the url has no %s for it to constrain", p, Placeholder)
	case hasVersion && iso.URL == "":
		d.errPath(p+".version", "%s.version: only a url with %s has versions; a path: ISO is what it is", p, Placeholder)
	}
	if !iso.Templated() {
		for _, u := range []struct{ field, s string }{{"checksum", iso.Checksum.ListURL}, {"signature.url", sigURL(iso)}} {
			if strings.Contains(u.s, Placeholder) {
				d.errPath(p+"."+u.field, "%s.%s: %s appears here but not in the url", p, u.field, Placeholder)
			}
		}
		return
	}
	if iso.Checksum.ListURL == "" {
		d.errPath(p+".url", "%s.url: %s needs checksum: file:URL, the checksum list the version is resolved against (an inline digest pins one release)", p, Placeholder)
		return
	}
	if iso.InDirectory() {
		return
	}
	for _, u := range []struct{ field, s string }{{"checksum", iso.Checksum.ListURL}, {"signature.url", sigURL(iso)}} {
		if strings.Contains(u.s, Placeholder) {
			d.errPath(p+"."+u.field, "%s.%s: %s here needs it in a directory of the url too (…/%s/…): with it only in the file name, the version is read from this list, so the list's URL must not depend on it", p, u.field, Placeholder, Placeholder)
		}
	}
}

func sigURL(iso *ISO) string {
	if iso.Signature == nil {
		return ""
	}
	return iso.Signature.URL
}

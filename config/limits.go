package config

import (
	"bytes"
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"

	"github.com/usbkit/compose/config/plural"
)

// Limits on what a manifest may ask for. Real kits are far below them; they
// keep a hostile or broken file from costing minutes and gigabytes (a title
// of 1 MiB aliased into thousands of entries, an alias flood) and keep the
// kernel command line within what every boot protocol accepts.
const (
	MaxTitle       = 256   // bytes of menu.title and isos[].title
	MaxArgs        = 1024  // bytes of isos[].args (GRUB adds the family's arguments)
	MaxISOs        = 10000 // entries in isos
	MaxAliases     = 10000 // alias expansions while reading one file
	MaxDiagnostics = 100   // problems listed; the rest are counted in one line
)

// within refuses a string longer than limit bytes.
func (d *decoder) within(v *yaml.Node, p, s string, limit int) bool {
	if len(s) > limit {
		d.errAt(v, "%s: %d bytes, longer than the limit of %d", p, len(s), limit)
		return false
	}
	return true
}

// resolve follows an alias to its anchor, counting expansions: past
// MaxAliases the file is refused once, at the alias, and walking stops.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && !d.flooded {
		d.aliases++
		if d.aliases > MaxAliases {
			d.flooded = true
			d.diags = nil // what was found so far is noise beside this
			d.errAt(n, "more than %d alias expansions: refusing to expand further (an alias flood?)", MaxAliases)
		}
	}
	return resolve(n)
}

// capped lists at most MaxDiagnostics problems and counts the rest.
func (ds Diagnostics) capped() Diagnostics {
	if len(ds) <= MaxDiagnostics {
		return ds
	}
	out := append(Diagnostics(nil), ds[:MaxDiagnostics]...)
	return append(out, Diagnostic{File: ds[0].File, Msg: "… and " + plural.Count(len(ds)-MaxDiagnostics, "more problem")})
}

// aliasToken is a YAML alias (*name) where a node can start. Quoted text can
// match too, so the count is an upper bound: fine for a limit no real
// manifest comes near.
var aliasToken = regexp.MustCompile(`(?m)(?:^|[\s\[{,])\*[^\s,\[\]{}]+`)

// tooManyAliases refuses, before parsing, a file with more aliases than
// MaxAliases: the YAML parser alone takes seconds and hundreds of MB on a
// 3 MB flood of them. It reports the position of the first alias past the limit.
func (d *decoder) tooManyAliases(data []byte) bool {
	locs := aliasToken.FindAllIndex(data, MaxAliases+1)
	if len(locs) <= MaxAliases {
		return false
	}
	at := locs[MaxAliases][0]
	line := bytes.Count(data[:at], []byte("\n")) + 1
	col := at - bytes.LastIndexByte(data[:at], '\n')
	if data[at] != '*' {
		col++
	}
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: line, Col: col,
		Msg: fmt.Sprintf("more than %d aliases: refusing to read further (an alias flood?)", MaxAliases)})
	return true
}

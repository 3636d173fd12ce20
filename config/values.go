package config

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/usbkit/compose/config/firmware"
	"go.yaml.in/yaml/v3"
)

// Size bounds: below 64 MiB nothing useful fits; the upper bound only
// catches typos that would overflow later arithmetic.
const (
	MinSize = 64 << 20
	MaxSize = 64 << 40
)

var sizeRE = regexp.MustCompile(`^([0-9]+) ?(B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)$`)

var sizeUnits = map[string]int64{
	"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
}

// ParseSize reads "auto" or a whole number with a unit: B, KiB, MiB, GiB,
// TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000).
func ParseSize(s string) (Size, error) {
	if s == "auto" {
		return Size{Auto: true}, nil
	}
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return Size{}, fmt.Errorf("%q is not a size: write auto or a whole number with a unit (16GiB, 512MiB, 8GB)", s)
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := sizeUnits[m[2]]
	if err != nil || n > math.MaxInt64/unit {
		return Size{}, fmt.Errorf("%q is too large", s)
	}
	b := n * unit
	if b < MinSize || b > MaxSize {
		return Size{}, fmt.Errorf("%s is out of range (64MiB to 64TiB)", s)
	}
	return Size{Bytes: b}, nil
}

func (d *decoder) size(v *yaml.Node, out *Size) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!int" {
		d.errAt(v, "size: %s has no unit: write auto or a size such as 16GiB", v.Value)
		return
	}
	s, ok := d.str(v, "size")
	if !ok {
		return
	}
	sz, err := ParseSize(s)
	if err != nil {
		d.errAt(v, "size: %v", err)
		return
	}
	*out = sz
}

var labelRE = regexp.MustCompile(`^[A-Z0-9_-]{1,11}$`)

// label checks the FAT volume label. Lower case is accepted and upper-cased,
// as DOS and Windows store labels; other characters FAT allows (spaces,
// punctuation) are refused because tools quote them inconsistently.
func (d *decoder) label(v *yaml.Node, out *string) {
	s, ok := d.str(v, "label")
	if !ok {
		return
	}
	up := strings.ToUpper(s)
	switch {
	case s == "":
		d.errAt(v, "label: empty; a FAT volume label has 1 to 11 characters")
	case utf8.RuneCountInString(s) > 11:
		d.errAt(v, "label: %q is %d characters; a FAT volume label holds at most 11", s, utf8.RuneCountInString(s))
	case !labelRE.MatchString(up):
		d.errAt(v, "label: %q has characters a FAT label cannot hold portably: use A-Z, 0-9, _ and -", s)
	default:
		*out = up
	}
}

// crossChecks runs the rules that span several parts of the manifest.
func (d *decoder) crossChecks(m *Manifest) {
	first := map[string]int{}
	for i, iso := range m.ISOs {
		if iso.Name == "" {
			continue
		}
		if j, dup := first[iso.Name]; dup {
			p := fmt.Sprintf("isos[%d].name", i)
			d.errPath(p, "%s: %q is already the name of isos[%d] (line %d); names must be unique", p, iso.Name, j, m.ISOs[j].Pos.Line)
			continue
		}
		first[iso.Name] = i
	}
	_, set := d.pos["menu.default"]
	switch {
	case m.Menu.Default != "":
		if _, ok := first[m.Menu.Default]; !ok && len(m.ISOs) > 0 {
			d.errPath("menu.default", "menu.default: %q is not the name of any ISO", m.Menu.Default)
		}
	case !set && len(m.ISOs) > 0:
		m.Menu.Default = m.ISOs[0].Name
	}
	d.secureBoot(m)
	d.casperPersistence(m)
}

func (d *decoder) secureBoot(m *Manifest) {
	if !m.SecureBoot {
		return
	}
	if !contains(m.Firmware, firmware.UEFIX64) && !contains(m.Firmware, firmware.UEFIARM64) {
		d.errPath("secure_boot", "secure_boot: needs a UEFI target that supports it (uefi-x64 or uefi-arm64)")
	}
}

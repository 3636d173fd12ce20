package config

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// PersistentFamilies are the boot families whose initramfs can keep a live system's
// changes on a partition of its own (the bootloader package holds each contract). An
// explicit `boot:` outside this list cannot take `persistence:`; a detected family is
// checked when the kit is planned.
var PersistentFamilies = []BootFamily{BootCasper, BootLive, BootDracut, BootArchiso}

// MinPersistence is the smallest persistence size: an ext4 journal and a few writes fit.
const MinPersistence = 64 << 20

// ParsePersistence reads a persistence size: the units of `size:`, without auto (the
// partition holds the user's data and never grows by itself), 64MiB to 64TiB.
func ParsePersistence(s string) (int64, error) {
	if s == "auto" {
		return 0, fmt.Errorf("auto is not a persistence size: write how much to keep, such as 4GiB")
	}
	if !sizeRE.MatchString(s) {
		return 0, fmt.Errorf("%q is not a size: write a whole number with a unit (4GiB, 512MiB, 8GB)", s)
	}
	sz, err := ParseSize(s)
	if err != nil {
		return 0, err
	}
	return sz.Bytes, nil
}

// persistence reads `persistence:`; a bare number is refused as it is for size:.
func (d *decoder) persistence(v *yaml.Node, p string, out *int64) {
	if v.Kind == yaml.ScalarNode && (v.Tag == "!!int" || v.Tag == "!!float") {
		d.errAt(v, "%s: %s has no unit: write a size such as 4GiB or 512MiB", p, v.Value)
		return
	}
	s, ok := d.str(v, p)
	if !ok {
		return
	}
	n, err := ParsePersistence(s)
	if err != nil {
		d.errAt(v, "%s: %v", p, err)
		return
	}
	*out = n
}

// persistenceRule refuses persistence on an entry whose `boot:` names a family without
// a persistence contract.
func (d *decoder) persistenceRule(p string, iso *ISO) {
	if iso.Persistence == 0 || iso.Boot == BootAuto || contains(PersistentFamilies, iso.Boot) {
		return
	}
	if iso.Boot == BootLoopbackCfg {
		d.errPath(p+".persistence", "%s.persistence: boot: loopback-cfg runs the ISO's own menu, which takes no persistence arguments; leave boot: out or name the ISO's family (%s)",
			p, persistentList())
		return
	}
	d.errPath(p+".persistence", "%s.persistence: boot: %s has no persistence contract (persistence works with %s)",
		p, iso.Boot, persistentList())
}

func persistentList() string {
	s := ""
	for i, f := range PersistentFamilies {
		switch {
		case i == len(PersistentFamilies)-1:
			s += " or "
		case i > 0:
			s += ", "
		}
		s += string(f)
	}
	return s
}

// casperPersistence refuses a second entry with boot: casper and persistence: casper
// reads the one filesystem labelled writable, so two entries would share it.
func (d *decoder) casperPersistence(m *Manifest) {
	first := -1
	for i, iso := range m.ISOs {
		if iso.Boot != BootCasper || iso.Persistence == 0 {
			continue
		}
		if first < 0 {
			first = i
			continue
		}
		p := fmt.Sprintf("isos[%d].persistence", i)
		d.errPath(p, "%s: isos[%d] (%s, line %d) already has casper persistence; casper reads the one filesystem labelled writable, so a stick holds one",
			p, first, m.ISOs[first].Name, m.ISOs[first].Pos.Line)
	}
}

// ValidName reports whether s can be an entry's `name:` (what labels and paths derive
// from): a-z, 0-9 and -, starting with a letter or digit, at most 63 characters.
func ValidName(s string) bool { return len(s) <= 63 && isoNameRE.MatchString(s) }

package disk

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// checkPath validates a volume path: absolute, clean, printable ASCII, no
// component FAT or the initramfs scripts would mangle.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("path %q: want an absolute, clean file path like /isos/x.iso", p)
	}
	if len(p) > 255 {
		return fmt.Errorf("path %q: longer than 255 characters", p)
	}
	for _, c := range strings.Split(p[1:], "/") {
		if err := checkName(c); err != nil {
			return fmt.Errorf("path %q: %w", p, err)
		}
	}
	return nil
}

func checkName(c string) error {
	if strings.Trim(c, ".") == "" {
		return fmt.Errorf("component %q is only dots", c)
	}
	if strings.HasSuffix(c, ".") || strings.HasSuffix(c, " ") || strings.HasPrefix(c, " ") {
		return fmt.Errorf("component %q starts or ends with a space or ends with a dot (FAT drops those)", c)
	}
	for _, r := range c {
		if r < 0x20 || r > 0x7e || strings.ContainsRune(`"*:<>?\|`, r) {
			return fmt.Errorf("component %q has %q, which FAT long names cannot hold", c, r)
		}
	}
	return nil
}

// checkFATLabel rejects labels FAT cannot hold instead of letting go-diskfs
// cut them to 11 characters.
func checkFATLabel(l string) error {
	if len(l) > 11 {
		return fmt.Errorf("FAT label %q is %d characters; FAT holds at most 11", l, len(l))
	}
	for _, r := range l {
		ok := r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(" !#$%&'()-@^_`{}~", r)
		if !ok {
			return fmt.Errorf("FAT label %q has %q; use A-Z, 0-9 and _ (upper case)", l, r)
		}
	}
	return nil
}

// shortAlias predicts the 8.3 name go-diskfs v1.9.4 gives a long name, so
// that Layout can refuse names whose aliases collide: go-diskfs matches a
// name against both the long and the short name of every entry, so a
// collision would silently open the wrong file.
// next remembers, per 6-character stem prefix and extension, the first
// tail number not yet tried: every stem sharing them yields the same
// candidates, and taken only grows, so the search resumes there instead of
// at ~1 (linear, not quadratic, in a directory of thousands of ISOs).
func shortAlias(name string, taken map[string]bool, next map[string]int) string {
	stem, ext := name, ""
	if i := strings.LastIndex(name, "."); i >= 0 {
		stem, ext = name[:i], name[i+1:]
		if len(ext) > 3 {
			ext = ext[:3]
		}
	}
	stem, ext = upperValid(stem), upperValid(ext)
	if len(stem) > 8 {
		key := stem[:6] + "." + ext
		for n := max(1, next[key]); ; n++ {
			tail := "~" + strconv.Itoa(n)
			s := stem[:min(len(stem), 8-len(tail))] + tail
			if !taken[join83(s, ext)] {
				stem, next[key] = s, n+1
				break
			}
		}
	}
	return join83(stem, ext)
}

func join83(stem, ext string) string {
	if ext == "" {
		return stem
	}
	return stem + "." + ext
}

const valid83 = "!#$%&'()-0123456789@ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`{}~"

func upperValid(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case strings.ContainsRune(valid83, r):
			b.WriteRune(r)
		case r >= 'a' && r <= 'z':
			b.WriteRune(r - 32)
		case r == ' ' || r == '.':
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// fatDir simulates one directory's entries in creation order.
type fatDir struct {
	names map[string]string // case-folded long and short names → the long name
	longs map[string]bool   // case-folded long names
	taken map[string]bool   // short names
	next  map[string]int    // see shortAlias
}

// add records name, failing when go-diskfs would confuse it with an entry
// created before it (or an earlier entry with it).
func (d *fatDir) add(name string) error {
	if d.taken == nil {
		d.names, d.longs, d.taken, d.next = map[string]string{}, map[string]bool{}, map[string]bool{}, map[string]int{}
	}
	s := shortAlias(name, d.taken, d.next)
	if l, ok := d.names[fold(name)]; ok {
		return collision(l, name)
	}
	if d.longs[fold(s)] {
		return collision(d.names[fold(s)], name)
	}
	d.names[fold(name)], d.longs[fold(name)] = name, true
	if _, ok := d.names[fold(s)]; !ok {
		d.names[fold(s)] = name
	}
	d.taken[s] = true
	return nil
}

// fold is the key two names share when FAT treats them as one (names are
// printable ASCII, checked before).
func fold(s string) string { return strings.ToUpper(s) }

func collision(earlier, name string) error {
	return fmt.Errorf("names %q and %q collide on FAT (same name ignoring case, or one is the other's 8.3 alias)", earlier, name)
}

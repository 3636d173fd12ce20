package config

import (
	"strings"
	"testing"
)

func TestPersistenceParses(t *testing.T) {
	src := head + "isos:\n" +
		"  - name: a\n    url: https://h/a.iso\n    checksum: file:https://h/SUMS\n    persistence: 4GiB\n" +
		"  - name: b\n    url: https://h/b.iso\n    checksum: file:https://h/SUMS\n    boot: live\n    persistence: 512 MiB\n" +
		"  - name: c\n    url: https://h/c.iso\n    checksum: file:https://h/SUMS\n    boot: efi\n"
	m, err := Parse("m.yaml", []byte(src), "")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []int64{4 << 30, 512 << 20, 0} {
		if got := m.ISOs[i].Persistence; got != want {
			t.Errorf("isos[%d].persistence = %d, want %d", i, got, want)
		}
	}
	if p, ok := m.Positions["isos[1].persistence"]; !ok || p != (Pos{11, 18}) {
		t.Errorf("isos[1].persistence at %+v (recorded %v), want 11:18", p, ok)
	}
	if d := m.Diag("isos[0].persistence", "x"); d.String() != "m.yaml:6:18: x" {
		t.Errorf("Diag = %q", d.String())
	}
}

func TestPersistenceErrors(t *testing.T) {
	entry := func(name, extra string) string {
		return "  - name: " + name + "\n    url: https://h/" + name + ".iso\n    checksum: file:https://h/SUMS\n" + extra
	}
	for _, tc := range []struct{ name, src, want string }{
		{"bare number", entry("a", "    persistence: 4096\n"),
			"m.yaml:6:18: isos[0].persistence: 4096 has no unit: write a size such as 4GiB or 512MiB"},
		{"float", entry("a", "    persistence: 1.5\n"),
			"m.yaml:6:18: isos[0].persistence: 1.5 has no unit: write a size such as 4GiB or 512MiB"},
		{"auto", entry("a", "    persistence: auto\n"),
			"m.yaml:6:18: isos[0].persistence: auto is not a persistence size: write how much to keep, such as 4GiB"},
		{"bad unit", entry("a", "    persistence: 4G\n"),
			`m.yaml:6:18: isos[0].persistence: "4G" is not a size: write a whole number with a unit (4GiB, 512MiB, 8GB)`},
		{"too small", entry("a", "    persistence: 1MiB\n"),
			"m.yaml:6:18: isos[0].persistence: 1MiB is out of range (64MiB to 64TiB)"},
		{"overflow", entry("a", "    persistence: 99999999999999999999TiB\n"),
			`m.yaml:6:18: isos[0].persistence: "99999999999999999999TiB" is too large`},
		{"list", entry("a", "    persistence: [4GiB]\n"),
			"m.yaml:6:18: isos[0].persistence: want a string, got a list"},
		{"boolean", entry("a", "    persistence: true\n"),
			"m.yaml:6:18: isos[0].persistence: want a string, got a boolean (quote it to make it a string)"},
		{"efi", entry("a", "    boot: efi\n    persistence: 1GiB\n"),
			"m.yaml:7:18: isos[0].persistence: boot: efi has no persistence contract (persistence works with casper, live, dracut or archiso)"},
		{"tails", entry("a", "    boot: tails\n    persistence: 1GiB\n"),
			"m.yaml:7:18: isos[0].persistence: boot: tails has no persistence contract (persistence works with casper, live, dracut or archiso)"},
		{"loopback-cfg", entry("a", "    boot: loopback-cfg\n    persistence: 1GiB\n"),
			"m.yaml:7:18: isos[0].persistence: boot: loopback-cfg runs the ISO's own menu, which takes no persistence arguments; leave boot: out or name the ISO's family (casper, live, dracut or archiso)"},
		{"second casper", entry("a", "    boot: casper\n    persistence: 1GiB\n") + entry("b", "    boot: casper\n") +
			entry("c", "    boot: casper\n    persistence: 2GiB\n"),
			"m.yaml:16:18: isos[2].persistence: isos[0] (a, line 3) already has casper persistence; casper reads the one filesystem labelled writable, so a stick holds one"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("m.yaml", []byte(head+"isos:\n"+tc.src), "")
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// Every family config lets through is one the bootloader package has a contract for, and
// the reverse; the cross-package half is in cmd/compose (config cannot import bootloader).
func TestPersistentFamiliesAreBootFamilies(t *testing.T) {
	for _, f := range PersistentFamilies {
		if !contains(BootFamilies, f) {
			t.Errorf("%q is not a boot family", f)
		}
	}
	if got := persistentList(); got != "casper, live, dracut or archiso" {
		t.Errorf("persistentList = %q", got)
	}
	if strings.Contains(persistentList(), ", and") {
		t.Error("serial comma")
	}
}

// The editor schema and the loader agree on persistence: what one refuses, the other does.
func TestSchemaPersistence(t *testing.T) {
	s := compileSchema(t)
	iso := "version: 1\nisos:\n  - name: a\n    url: https://h/a.iso\n    checksum: file:https://h/SUMS\n"
	for src, ok := range map[string]bool{
		iso + "    persistence: 4GiB\n":                   true,
		iso + "    persistence: 512 MiB\n":                true,
		iso + "    boot: dracut\n    persistence: 1GiB\n": true,
		iso + "    persistence: 4096\n":                   false,
		iso + "    persistence: auto\n":                   false,
		iso + "    persistence: 4G\n":                     false,
		iso + "    boot: efi\n    persistence: 1GiB\n":    false,
		iso + "    boot: tails\n    persistence: 1GiB\n":  false,
	} {
		verr := s.Validate(yamlToJSON(t, []byte(src)))
		_, perr := Parse("m.yaml", []byte(src), "")
		if (verr == nil) != ok || (perr == nil) != ok {
			t.Errorf("want accepted=%v; schema: %v; loader: %v\n%s", ok, verr, perr, src)
		}
	}
}

// FuzzPersistence: any persistence value and boot: either parses to a size within bounds
// on a family with a contract, or fails with a diagnostic at the field.
func FuzzPersistence(f *testing.F) {
	for _, s := range []string{"4GiB", "4096", "auto", "1.5", "[1]", "'64 MiB'", "99999999999999999999TiB", "{a: b}", "~", "&a 1GiB", "64MiB"} {
		f.Add(s, "live")
		f.Add(s, "efi")
	}
	f.Fuzz(func(t *testing.T, value, boot string) {
		if strings.ContainsAny(value+boot, "\n\r") {
			return
		}
		src := head + "isos:\n  - name: a\n    url: https://h/a.iso\n    checksum: file:https://h/SUMS\n    boot: " + boot + "\n    persistence: " + value + "\n"
		defer watchdog([]byte(src))()
		m, err := Parse("m.yaml", []byte(src), "")
		if err != nil {
			return
		}
		p := m.ISOs[0].Persistence
		if p < MinPersistence || p > MaxSize || !contains(PersistentFamilies, m.ISOs[0].Boot) {
			t.Fatalf("accepted persistence %d on boot %q:\n%s", p, m.ISOs[0].Boot, src)
		}
	})
}

package version

import (
	"sort"
	"testing"
)

func mustParse(t *testing.T, s string) Version {
	t.Helper()
	v, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Real release names, as their vendors write them in file and directory
// names.
func TestCompare(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"12.10", "12.9", 1},             // Debian: numbers, not strings
		{"12.10.0", "12.9.0", 1},         // debian-12.10.0-amd64-netinst.iso
		{"12.9", "12.9.0", 0},            // missing fields are 0
		{"12.8.0", "12.9.0", -1},         //
		{"24.04.2", "24.04.1", 1},        // ubuntu-24.04.2-live-server-amd64.iso
		{"24.04.2", "24.10", -1},         //
		{"24.04", "24.04.2", -1},         //
		{"41-1.4", "41-1.2", 1},          // Fedora-Workstation-Live-x86_64-41-1.4.iso
		{"41_Beta-1.2", "41-1.4", -1},    // a word is a pre-release
		{"42-1.1", "41-1.4", 1},          //
		{"9.5", "9.10", -1},              // Rocky-9.5-x86_64-dvd.iso
		{"9.5", "10.0", -1},              //
		{"15.6", "15.5", 1},              // openSUSE-Leap-15.6-DVD-x86_64-Media.iso
		{"2025.01.01", "2024.12.01", 1},  // archlinux-2025.01.01-x86_64.iso
		{"2025.01.01", "2025.1.1", 0},    // leading zeros do not count
		{"2025.02.01", "2025.01.01", 1},  //
		{"12.9.0-rc1", "12.9.0", -1},     //
		{"12.9.0-rc1", "12.9.0-rc2", -1}, //
		{"12.9.0~rc1", "12.9.0-rc1", 0},  // separators are all alike
		{"1.0alpha", "1.0beta", -1},      //
		{"12.9.0.1", "12.9.0", 1},        //
	} {
		a, b := mustParse(t, c.a), mustParse(t, c.b)
		if got := Compare(a, b); got != c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Compare(b, a); got != -c.want {
			t.Errorf("Compare(%s, %s) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

func TestSortDebian(t *testing.T) {
	in := []string{"12.9.0", "12.10.0", "12.1.0", "11.11.0", "12.0.0", "12.2.0"}
	vs := make([]Version, len(in))
	for i, s := range in {
		vs[i] = mustParse(t, s)
	}
	sort.Slice(vs, func(i, j int) bool { return Compare(vs[i], vs[j]) < 0 })
	want := []string{"11.11.0", "12.0.0", "12.1.0", "12.2.0", "12.9.0", "12.10.0"}
	for i, v := range vs {
		if v.Text != want[i] {
			t.Fatalf("sorted: got %v at %d, want %s", v.Text, i, want[i])
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, s := range []string{"", "v12", "edu-12.9.0", "12 9", "12/9", "amd64", "99999999999999999999999"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) accepted it", s)
		}
	}
}

func TestConstraint(t *testing.T) {
	for _, c := range []struct {
		constraint string
		yes, no    []string
	}{
		{"12.*", []string{"12", "12.9.0", "12.10.0", "12.10"}, []string{"11.11.0", "13.0.0", "120.1", "1.2"}},
		{"12.9.*", []string{"12.9", "12.9.0", "12.9.1"}, []string{"12.10.0", "12.8.0"}},
		{">=24.04 <25", []string{"24.04", "24.04.2", "24.10"}, []string{"23.10", "25.04", "25"}},
		{">=24.04, <25", []string{"24.04.1"}, []string{"25.04"}},
		{"12.9.0", []string{"12.9.0", "12.9"}, []string{"12.9.1", "12.10.0"}},
		{"=41-1.4", []string{"41-1.4"}, []string{"41-1.2", "42-1.1"}},
		{">2025.01.01", []string{"2025.02.01"}, []string{"2025.01.01", "2024.12.01"}},
		{"<=9.5", []string{"9.5", "9.4"}, []string{"9.6", "10.0"}},
	} {
		k, err := ParseConstraint(c.constraint)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.yes {
			if !k.Admits(mustParse(t, s)) {
				t.Errorf("%q does not admit %s", c.constraint, s)
			}
		}
		for _, s := range c.no {
			if k.Admits(mustParse(t, s)) {
				t.Errorf("%q admits %s", c.constraint, s)
			}
		}
	}
}

func TestConstraintRefuses(t *testing.T) {
	for _, s := range []string{"", " ", "latest", ">=", "12.*.*", ">=v24", "~12"} {
		if _, err := ParseConstraint(s); err == nil {
			t.Errorf("ParseConstraint(%q) accepted it", s)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.9.0", "41-1.4", "2025.01.01", "12.9.0-rc1"} {
		f.Add(s, "12.10")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if c, err := ParseConstraint(b); err == nil { // hostile constraints: no panic
			if va, err := Parse(a); err == nil {
				c.Admits(va)
			}
		}
		va, errA := Parse(a)
		vb, errB := Parse(b)
		if errA != nil || errB != nil {
			return
		}
		if Compare(va, vb) != -Compare(vb, va) {
			t.Fatalf("Compare(%q, %q) is not antisymmetric", a, b)
		}
		if Compare(va, va) != 0 {
			t.Fatalf("Compare(%q, %q) != 0", a, a)
		}
	})
}

func TestPre(t *testing.T) {
	for s, want := range map[string]bool{"12.9.0": false, "2025.01.01": false, "41-1.4": false,
		"12.9.0-rc1": true, "12.10.0-live": true, "41_Beta-1.2": true} {
		if got := mustParse(t, s).Pre(); got != want {
			t.Errorf("Pre(%s) = %v", s, got)
		}
	}
	for s, want := range map[string]bool{"12.*": false, ">=24.04 <25": false, "12.9.0-live": true, ">=42_Beta": true} {
		c, err := ParseConstraint(s)
		if err != nil {
			t.Fatal(err)
		}
		if c.WantsPre() != want {
			t.Errorf("WantsPre(%s) = %v", s, !want)
		}
	}
}

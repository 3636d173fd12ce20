package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func manifestWith(isos string) string {
	return "version: 1\nisos:\n" + isos
}

func TestTitleAndArgsLimits(t *testing.T) {
	long := strings.Repeat("x", MaxTitle+1)
	src := manifestWith(fmt.Sprintf("  - name: a\n    path: a.iso\n    sha256: %s\n    title: %s\n    args: %s\n",
		strings.Repeat("a", 64), long, strings.Repeat("y", MaxArgs+1)))
	_, err := Parse("m.yaml", []byte(src), "")
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 2 {
		t.Fatalf("want 2 diagnostics, got %v", err)
	}
	if ds[0].Line != 6 || !strings.Contains(ds[0].Msg, "isos[0].title: 257 bytes, longer than the limit of 256") {
		t.Errorf("title: %v", ds[0])
	}
	if ds[1].Line != 7 || !strings.Contains(ds[1].Msg, "isos[0].args: 1025 bytes") {
		t.Errorf("args: %v", ds[1])
	}
}

// A 1 MiB title aliased into 2,000 entries: one diagnostic per entry, of
// which the first MaxDiagnostics are listed.
func TestAliasedTitleDiagnosticsCapped(t *testing.T) {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nanchors: &t %s\nisos:\n", strings.Repeat("x", 1<<20))
	for i := range 2000 {
		fmt.Fprintf(&b, "  - {name: n%d, path: a.iso, sha256: %s, title: *t}\n", i, strings.Repeat("a", 64))
	}
	_, err := Parse("m.yaml", []byte(b.String()), "")
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("want diagnostics, got %v", err)
	}
	if len(ds) != MaxDiagnostics+1 || !strings.Contains(ds[len(ds)-1].Msg, "more problems") {
		t.Fatalf("want %d diagnostics and a count, got %d, last %v", MaxDiagnostics, len(ds), ds[len(ds)-1])
	}
}

// aliasFlood is a manifest of n aliases to one anchored ISO entry
// (3 MB at n = 700,000): each expansion would be an entry, and an error.
func aliasFlood(n int) []byte {
	var b strings.Builder
	b.WriteString("version: 1\nisos:\n  - &a {name: a, path: a.iso, sha256: bad}\n")
	for range n {
		b.WriteString("  - *a\n")
	}
	return []byte(b.String())
}

func TestAliasFloodRefused(t *testing.T) {
	_, err := Parse("m.yaml", aliasFlood(700000), "")
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || !strings.Contains(err.Error(), "m.yaml:10004:5: more than 10000 aliases") {
		t.Fatalf("want one error about the number of entries, got %.300v", err)
	}
}

// Aliases are refused before parsing when there are too many, wherever
// they are; the count while walking is a backstop for what the scan misses.
func TestAliasExpansionsLimited(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nfirmware: [&f bios")
	for range MaxAliases + 5 {
		b.WriteString(", *f")
	}
	fmt.Fprintf(&b, "]\nisos:\n  - {name: a, path: a.iso, sha256: %s}\n", strings.Repeat("a", 64))
	_, err := Parse("m.yaml", []byte(b.String()), "")
	var ds Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || !strings.Contains(err.Error(), "m.yaml:2:40021: more than 10000 aliases") {
		t.Fatalf("want one alias limit error, got %d: %.300v", len(ds), err)
	}
	d := newDecoder("m.yaml")
	d.aliases = MaxAliases
	d.errAt(&yaml.Node{Line: 1}, "noise")
	d.resolve(&yaml.Node{Kind: yaml.AliasNode, Line: 7, Column: 3, Alias: &yaml.Node{Kind: yaml.ScalarNode}})
	if !d.flooded || len(d.diags) != 1 || d.diags[0].Line != 7 {
		t.Fatalf("walker: flooded=%v diags=%v", d.flooded, d.diags)
	}
}

func TestTooManyISOs(t *testing.T) {
	var b strings.Builder
	b.WriteString("version: 1\nisos:\n")
	for i := range MaxISOs + 1 {
		fmt.Fprintf(&b, "  - {name: n%d, path: a.iso, sha256: %s}\n", i, strings.Repeat("a", 64))
	}
	_, err := Parse("m.yaml", []byte(b.String()), "")
	if err == nil || !strings.Contains(err.Error(), "m.yaml:3:3: isos: 10001 entries, more than the limit of 10000") {
		t.Fatalf("got %.300v", err)
	}
}

// BenchmarkAliasFlood: issue 13 measured 53 s and 1.6 GB for a 3 MB flood.
//
//	go test -run '^$' -bench AliasFlood -benchmem ./config/
func BenchmarkAliasFlood(b *testing.B) {
	data := aliasFlood(700000)
	for b.Loop() {
		_, _ = Parse("m.yaml", data, "")
	}
}

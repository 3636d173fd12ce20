package bootloader

import (
	"regexp"
	"strings"
	"testing"
)

// evalGuards evaluates the if-guards around each menuentry of cfg the way
// GRUB would for platform and cpu, returning the ids GRUB would show.
func evalGuards(cfg, platform, cpu string) []string {
	cond := regexp.MustCompile(`"\$grub_(platform|cpu)" = (\S+)`)
	var stack []bool
	var shown []string
	for _, line := range strings.Split(cfg, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "if [ \"$grub_") && strings.HasSuffix(line, "; then"):
			ok := false
			for _, m := range cond.FindAllStringSubmatch(line, -1) {
				v := map[string]string{"platform": platform, "cpu": cpu}[m[1]]
				ok = ok || v == m[2]
			}
			stack = append(stack, ok)
		case line == "fi" && len(stack) > 0:
			stack = stack[:len(stack)-1]
		case strings.HasPrefix(line, "menuentry "):
			visible := true
			for _, b := range stack {
				visible = visible && b
			}
			if m := regexp.MustCompile(`--id '?([^' ]+)'?`).FindStringSubmatch(line); visible && m != nil {
				shown = append(shown, m[1])
			}
		}
	}
	return shown
}

// TestShownMatchesGuards: for every fixture and platform, Shown agrees with
// the guards Render writes around the entry.
func TestShownMatchesGuards(t *testing.T) {
	platforms := [][2]string{{"pc", "i386"}, {"efi", "x86_64"}, {"efi", "i386"}, {"efi", "arm64"}}
	for _, f := range fixtures() {
		d, err := Inspect(f.fs(), f.label)
		if err != nil {
			continue // unbootable fixtures have no entry
		}
		cfg, err := Render(Menu{}, []Entry{{ID: "x", ISOPath: "/isos/x.iso", Boot: d}})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range platforms {
			ids := evalGuards(string(cfg), p[0], p[1])
			rendered := len(ids) > 0 && ids[0] == "x"
			if got := Shown(d, p[0], p[1]); got != rendered {
				t.Errorf("%s on %s/%s: Shown %v, grub.cfg shows it: %v", f.name, p[0], p[1], got, rendered)
			}
		}
	}
}

package licenses

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const root = "../../../.."

// TestTopLevelCopies keeps the embedded LICENSE and NOTICE equal to the
// repository's.
func TestTopLevelCopies(t *testing.T) {
	for _, name := range []string{"LICENSE", "NOTICE"} {
		top, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := read(name).Text; got != string(top) {
			t.Errorf("embedded %s differs from the repository's; run go run gen.go", name)
		}
	}
}

// TestNoticeNamesEveryAsset checks that NOTICE names every boot binary
// PROVENANCE lists, every package they come from, with its version, and the
// source package versions.
func TestNoticeNamesEveryAsset(t *testing.T) {
	notice := read("NOTICE").Text
	b, err := os.ReadFile(filepath.Join(root, "bootloader/assets/PROVENANCE"))
	if err != nil {
		t.Fatal(err)
	}
	// The files NOTICE lists: the "embedded files:" and "embedded build
	// inputs (…):" lines.
	listed := map[string]bool{}
	for _, line := range strings.Split(notice, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "embedded files:") && !strings.HasPrefix(line, "embedded build inputs") {
			continue
		}
		_, list, _ := strings.Cut(line, ": ")
		for _, name := range strings.Split(list, ", ") {
			listed[name] = true
		}
	}
	tools, files := false, 0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "# Packages that only run") {
			tools = true
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 6 && f[0] == "package" && !tools:
			for _, want := range []string{f[1] + " " + f[2], f[4] + " " + f[5]} {
				if !strings.Contains(notice, want) {
					t.Errorf("NOTICE does not name %q (PROVENANCE: %s)", want, line)
				}
			}
		case len(f) >= 4 && f[0] == "file":
			files++
			if !listed[f[1]] {
				t.Errorf("NOTICE does not list the embedded file %s", f[1])
			}
		}
	}
	if files == 0 {
		t.Fatal("PROVENANCE lists no files")
	}
}

// TestNoticeNamesEveryModule checks that NOTICE names every module go.mod
// requires at its version, with a licence.
func TestNoticeNamesEveryModule(t *testing.T) {
	notice := read("NOTICE").Text
	b, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if f = trimRequire(f); len(f) < 2 {
			continue
		}
		n++
		found := false
		for _, l := range strings.Split(notice, "\n") {
			g := strings.Fields(l)
			if len(g) >= 3 && g[0] == f[0] && g[1] == f[1] {
				found = true
			}
		}
		if !found {
			t.Errorf("NOTICE has no line for %s %s with its licence; run go run gen.go", f[0], f[1])
		}
	}
	if n < 10 {
		t.Fatalf("found only %d modules in go.mod", n)
	}
}

// trimRequire returns [path version] for a require line of go.mod.
func trimRequire(f []string) []string {
	if len(f) > 0 && f[0] == "require" {
		f = f[1:]
	}
	if len(f) < 2 || !strings.Contains(f[0], ".") || !strings.HasPrefix(f[1], "v") {
		return nil
	}
	return f[:2]
}

// TestEveryLinkedModuleHasItsText checks that each module linked into
// cmd/compose on a release platform has its licence text embedded.
func TestEveryLinkedModuleHasItsText(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the dependencies of five platforms; run without -short")
	}
	for _, p := range []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"} {
		goos, goarch, _ := strings.Cut(p, "/")
		cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}", "github.com/usbkit/compose/cmd/compose")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps (%s): %v", p, err)
		}
		for _, path := range strings.Fields(string(out)) {
			name := "texts/" + textName(path)
			b, err := files.ReadFile(name)
			if err != nil || !bytes.Contains(b, []byte("==> "+path+"@")) {
				t.Errorf("%s is linked on %s but %s does not hold its licence; run go run gen.go", path, p, name)
			}
		}
	}
}

func textName(path string) string {
	return strings.NewReplacer("/", "_", ".", "_").Replace(path) + ".txt"
}

// TestAll checks the order All promises and that nothing is empty.
func TestAll(t *testing.T) {
	all := All()
	if len(all) < 4 || all[0].Name != "NOTICE" || all[1].Name != "LICENSE" {
		t.Fatalf("All() starts %v", all[:2])
	}
	for _, f := range all {
		if strings.TrimSpace(f.Text) == "" {
			t.Errorf("%s is empty", f.Name)
		}
	}
	if !strings.Contains(all[1].Text, "Apache License") {
		t.Error("LICENSE is not the Apache License")
	}
}

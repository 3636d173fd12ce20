package compose

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden lists, for each package, the module packages it must not import
// (directly or not): config, fetch and bootloader know nothing of each other
// or of compose; the image, device and boot-test packages take plain inputs;
// no library imports the CLI.
var forbidden = map[string][]string{
	"config":           {"fetch", "bootloader", "compose", "cmd"},
	"fetch":            {"config", "bootloader", "compose", "cmd"},
	"bootloader":       {"config", "fetch", "compose", "cmd"},
	"compose":          {"cmd"},
	"compose/disk":     {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/device":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/boottest": {"config", "fetch", "bootloader", "compose", "cmd"},
}

const module = "github.com/usbkit/compose/"

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}: {{join .Deps \" \"}}", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	checked := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, ": ")
		rel, ok := strings.CutPrefix(pkg, module)
		if !ok || forbidden[rel] == nil {
			continue
		}
		checked++
		for _, dep := range strings.Fields(deps) {
			d, ok := strings.CutPrefix(dep, module)
			if !ok {
				continue
			}
			for _, bad := range forbidden[rel] {
				if (d == bad || strings.HasPrefix(d, bad+"/")) && !strings.HasPrefix(d, rel+"/") && d != rel {
					t.Errorf("%s imports %s", rel, d)
				}
			}
		}
	}
	if checked < 4 {
		t.Fatalf("checked only %d packages; is the module path right?", checked)
	}
}

package compose

import (
	"os/exec"
	"strings"
	"testing"
)

// forbidden lists, for each package, the module packages it must not import
// (directly or not): config, fetch and bootloader know nothing of each other
// or of compose; the image, device and boot-test packages take plain inputs;
// compose plans boot cases but does not run them (the CLI joins them to the
// QEMU runner), so it does not import compose/boottest; no library imports
// the CLI. config/firmware (the module's firmware names), config/bytesize
// (byte counts for people), config/digest (digest algorithm names to
// hashes), config/filekind (names of file kinds for errors),
// config/crash (panics turned into errors), config/atomicfile (the one way
// a file is replaced) and config/plural (counts in words) import nothing
// of the module and
// every package may use them (shared). They sit under config because fetch
// cannot import compose/internal and the top-level layout is fixed.
var forbidden = map[string][]string{
	"config":            {"fetch", "bootloader", "compose", "cmd"},
	"config/firmware":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/bytesize":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/digest":     {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/filekind":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/atomicfile": {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/plural":     {"config", "fetch", "bootloader", "compose", "cmd"},
	"fetch":             {"config", "bootloader", "compose", "cmd"},
	"bootloader":        {"config", "fetch", "compose", "cmd"},
	"compose":           {"cmd", "compose/boottest"},
	"compose/disk":      {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/device":    {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/boottest":  {"config", "fetch", "bootloader", "compose", "cmd"},
	// isoimage reads hostile ISOs for the planner and `compose inspect`.
	"compose/isoimage": {"fetch", "compose", "cmd"},
	// converge changes a kit in place from plain data: no manifest, plan
	// or fetcher.
	"compose/converge": {"fetch", "cmd", "compose/boottest", "compose/isoimage", "compose/imagefile"},
	// imagefile holds an image path; it knows nothing of kits.
	"compose/imagefile": {"config", "fetch", "bootloader", "cmd", "compose/boottest", "compose/isoimage", "compose/converge"},
	// fatedit edits FAT32 volumes from plain inputs.
	"compose/internal/fatedit": {"config", "fetch", "bootloader", "compose", "cmd"},
	// directio reads with the page cache bypassed, for compose and compose/device.
	"compose/internal/directio": {"config", "fetch", "bootloader", "compose", "cmd"},
	// ext4edit edits ext4 volumes from plain inputs, for compose (compose/disk
	// gets its AddJournal through Spec.Journal: ext4edit's tests use compose/disk).
	"compose/internal/ext4edit": {"config", "fetch", "bootloader", "compose", "cmd"},
	// ext4fmt holds ext4 format facts for compose/disk and ext4edit.
	"compose/internal/ext4fmt": {"config", "fetch", "bootloader", "compose", "cmd"},
	// crash turns panics into errors for every package, so it imports none.
	"config/crash": {"config", "fetch", "bootloader", "compose", "cmd"},
}

const module = "github.com/usbkit/compose/"

// shared packages may be imported by every package.
// compose/internal/stale (names of temporary files) is compose's own.
var shared = map[string]bool{"config/firmware": true, "config/bytesize": true, "config/digest": true, "config/filekind": true,
	"compose/internal/stale": true, "compose/internal/fatbpb": true, "compose/internal/directio": true,
	"compose/internal/ext4fmt": true, "config/crash": true, "config/atomicfile": true, "config/plural": true}

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
			if !ok || shared[d] {
				continue
			}
			for _, bad := range forbidden[rel] {
				if forbids(rel, bad, d) {
					t.Errorf("%s imports %s", rel, d)
				}
			}
		}
	}
	if checked < 4 {
		t.Fatalf("checked only %d packages; is the module path right?", checked)
	}
}

// forbids reports whether rule bad of package rel rules out dependency d.
// A package may use its own subpackages unless the rule names one.
func forbids(rel, bad, d string) bool {
	if d != bad && !strings.HasPrefix(d, bad+"/") {
		return false
	}
	own := d == rel || strings.HasPrefix(d, rel+"/")
	return !own || strings.HasPrefix(bad, rel+"/")
}

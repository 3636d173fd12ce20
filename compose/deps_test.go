package compose

import (
	"os/exec"
	"slices"
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
// a file is replaced), config/plural (counts in words), config/version
// (release versions ordered and constrained) and config/fatbpb
// (the one FAT boot sector reader) import nothing of the module and every
// package may use them (shared). They sit under config because fetch and bootloader
// cannot import compose/internal and the top-level layout is fixed.
var forbidden = map[string][]string{
	"config":            {"fetch", "bootloader", "compose", "cmd"},
	"config/firmware":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/bytesize":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/digest":     {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/filekind":   {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/atomicfile": {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/plural":     {"config", "fetch", "bootloader", "compose", "cmd"},
	"config/version":    {"config", "fetch", "bootloader", "compose", "cmd"},
	"fetch":             {"config", "bootloader", "compose", "cmd"},
	"bootloader":        {"config", "fetch", "compose", "cmd"},
	"compose":           {"cmd", "compose/boottest"},
	"compose/disk":      {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/device":    {"config", "fetch", "bootloader", "compose", "cmd"},
	"compose/boottest":  {"config", "fetch", "bootloader", "compose", "cmd"},
	// isoimage reads hostile ISOs for the planner and `compose inspect`.
	"compose/isoimage": {"fetch", "compose", "cmd"},
	// udf reads hostile UDF images from plain inputs.
	"compose/udf": {"config", "fetch", "bootloader", "compose", "cmd"},
	// converge changes a kit in place from plain data: no manifest, plan
	// or fetcher.
	"compose/converge": {"fetch", "cmd", "compose/boottest", "compose/isoimage", "compose/imagefile"},
	// pin turns a manifest's sources into lock entries: config and fetch only.
	"compose/pin": {"bootloader", "compose", "cmd"},
	// imagefile holds an image path; it knows nothing of kits.
	"compose/imagefile": {"config", "fetch", "bootloader", "cmd", "compose/boottest", "compose/isoimage", "compose/converge"},
	// fatedit edits FAT32 volumes from plain inputs.
	"compose/internal/fatedit": {"config", "fetch", "bootloader", "compose", "cmd"},
	// directio reads with the page cache bypassed, for compose and compose/device.
	"compose/internal/directio": {"config", "fetch", "bootloader", "compose", "cmd"},
	// ext4edit edits ext4 volumes from plain inputs, for compose and
	// compose/disk (its journal); tests that build images with compose/disk
	// are in the external test packages ext4edit_test and fatedit_test.
	"compose/internal/ext4edit": {"config", "fetch", "bootloader", "compose", "cmd"},
	// ext4fmt holds ext4 format facts for compose/disk and ext4edit.
	"compose/internal/ext4fmt": {"config", "fetch", "bootloader", "compose", "cmd"},
	// crash turns panics into errors for every package, so it imports none.
	"config/crash": {"config", "fetch", "bootloader", "compose", "cmd"},
	// fatbpb reads FAT boot sectors for compose and bootloader alike.
	"config/fatbpb": {"config", "fetch", "bootloader", "compose", "cmd"},
	// edit is the change list both volume editors take.
	"compose/internal/edit": {"config", "fetch", "bootloader", "compose", "cmd"},
	// zero tells an all-zero buffer for compose/disk and compose/device.
	"compose/internal/zero": {"config", "fetch", "bootloader", "compose", "cmd"},
}

const module = "github.com/usbkit/compose/"

// shared packages may be imported by every package.
// compose/internal/stale (names of temporary files) is compose's own.
var shared = map[string]bool{"config/firmware": true, "config/bytesize": true, "config/digest": true, "config/filekind": true,
	"compose/internal/stale": true, "config/fatbpb": true, "compose/internal/directio": true,
	"compose/internal/ext4fmt": true, "config/crash": true, "compose/internal/edit": true,
	"compose/internal/zero": true, "config/atomicfile": true, "config/plural": true, "config/version": true}

// uses lists, for a package, the module packages below it that its rule
// would forbid but it builds on: compose/disk adds the journal with
// ext4edit and names FAT entries with fatedit's alias generator (their
// tests that build images with compose/disk are external test packages).
var uses = map[string][]string{"compose/disk": {"compose/internal/ext4edit", "compose/internal/fatedit"},
	"compose/isoimage": {"compose/udf", "compose/wim"}}

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
			if !ok || shared[d] || slices.Contains(uses[rel], d) {
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

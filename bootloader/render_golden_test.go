package bootloader

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.cfg")

func goldenMenu() Menu {
	return Menu{Title: "Lab boot kit", Timeout: 10 * time.Second, Console: ConsoleSerial, SecureBoot: true}
}

func TestRenderGoldenPerFixture(t *testing.T) {
	for _, f := range append(fixtures(), familyFixtures()...) {
		t.Run(f.name, func(t *testing.T) {
			d, err := Inspect(f.fs(), f.label)
			if err != nil {
				t.Fatal(err)
			}
			m := goldenMenu()
			m.Default = f.name
			e := Entry{ID: f.name, Title: f.label, ISOPath: "/isos/" + f.name + ".iso", Boot: d}
			if d.Family != LoopbackCfg {
				e.Args = "quiet"
			}
			got, err := Render(m, []Entry{e})
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "golden", f.name+".cfg"), got)
		})
	}
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update once to create it, then review it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the rendered config:\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// One menu with every fixture, console on both, Secure Boot off (no MokManager entry).
func TestRenderGoldenWholeKit(t *testing.T) {
	entries := entriesOf(t, fixtures())
	got, err := Render(Menu{Title: "Whole kit", Timeout: -1, Default: IDPowerOff, Console: ConsoleBoth}, entries)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "whole-kit.cfg"), got)
	if strings.Contains(string(got), "mokmanager") {
		t.Error("MokManager entry without secure_boot")
	}
}

// ISOs on the ext4 data partition: GRUB first finds that partition by its
// marker, so loopback, and archiso's UUID probe, see the right volume.
func TestRenderGoldenDataVolume(t *testing.T) {
	var two []fixture
	for _, f := range fixtures() {
		if f.name == "archlinux-2024.01.01" || f.name == "debian-live-12" {
			two = append(two, f)
		}
	}
	entries := entriesOf(t, two)
	for i := range entries {
		entries[i].Volume = "/.compose/0123456789abcdef.data"
	}
	if len(entries) != 2 {
		t.Fatalf("fixtures archlinux-2024.01.01 and debian-live-12 not found")
	}
	got, err := Render(goldenMenu(), entries)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "data-volume.cfg"), got)
	if _, err := Render(goldenMenu(), []Entry{{ID: "x", ISOPath: "/isos/x.iso", Volume: "/a b", Boot: entries[0].Boot}}); err == nil {
		t.Error("a volume marker with a blank was accepted")
	}
}

// The kit of every family added for issue 14: the menu the QEMU family test boots.
func TestRenderGoldenFamiliesKit(t *testing.T) {
	got, err := Render(Menu{Title: "Families", Timeout: 5 * time.Second, Console: ConsoleSerial}, entriesOf(t, familyFixtures()))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "families-kit.cfg"), got)
}

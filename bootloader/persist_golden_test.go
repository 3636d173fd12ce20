package bootloader

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// persistentKit is one entry of every family with a persistence contract, each with
// its persistence: the menu the issue 25 proofs boot (live-boot and dracut in QEMU,
// casper and archiso at this level).
func persistentKit(t *testing.T) []Entry {
	t.Helper()
	ubuntu := fixtureByName(t, "ubuntu-22.04-desktop")
	casper, err := Resolve(ubuntu.fs(), ubuntu.label, Overrides{Family: Casper})
	if err != nil {
		t.Fatal(err)
	}
	boots := []struct {
		id string
		d  Detection
	}{
		{"debian", detect(t, "debian-live-12")},
		{"fedora-39-workstation-live", detect(t, "fedora-39-workstation")},
		{"ubuntu", casper},
		{"arch", detect(t, "archlinux-2024.01.01")},
	}
	var reqs []PersistRequest
	for _, b := range boots {
		reqs = append(reqs, PersistRequest{ID: b.id, Boot: b.d})
	}
	pers, err := AssignPersistence(reqs)
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for _, b := range boots {
		p := pers[b.id]
		entries = append(entries, Entry{ID: b.id, ISOPath: "/isos/" + b.id + ".iso", Boot: b.d, Args: "quiet", Persistence: &p})
	}
	return entries
}

func TestRenderGoldenPersistenceKit(t *testing.T) {
	got, err := Render(Menu{Title: "Persistence", Timeout: 5 * time.Second, Console: ConsoleSerial}, persistentKit(t))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, filepath.Join("testdata", "golden", "persistence-kit.cfg"), got)
}

// The kernel line of each family carries exactly its contract's arguments, after the
// family's own and before console and user arguments, each once.
func TestPersistenceKernelLines(t *testing.T) {
	cfg, err := Render(Menu{Console: ConsoleSerial}, persistentKit(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := linuxLines(string(cfg))
	want := []string{
		`'boot=live' 'findiso=/isos/debian.iso' 'persistence' 'persistence-label=p-debian' 'persistence-storage=filesystem' "console=${compose_serial}" 'quiet'`,
		`'rd.live.overlay.overlayfs=1' 'rd.live.overlay=LABEL=p-fedora_` + hash6("fedora-39-workstation-live") + `:/overlayfs' "console=${compose_serial}" 'quiet'`,
		`'boot=casper' 'iso-scan/filename=/isos/ubuntu.iso' 'persistent' "console=${compose_serial}" 'quiet'`,
		`'archisolabel=ARCH_202401' 'cow_label=p-arch' 'cow_directory=persistent' "console=${compose_serial}" 'quiet'`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d linux lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, w := range want {
		if !strings.HasSuffix(lines[i], " "+w) {
			t.Errorf("line %d:\n%s\nwant it to end in:\n%s", i, lines[i], w)
		}
		for _, a := range []string{"'rd.live.overlay.overlayfs=1'", "'persistence'", "'persistent'", "cow_label"} {
			if n := strings.Count(lines[i], a); n > 1 {
				t.Errorf("line %d has %s %d times: %s", i, a, n, lines[i])
			}
		}
	}
}

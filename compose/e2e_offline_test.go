package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/fetch"
)

// TestBootOfflineKit runs what `compose test` runs (Kit.BootTest, then
// boottest's Runner under --accel auto) on the README's main kit,
// examples/offline/debian-tools.yaml: Debian's memtest86+ and iPXE ISOs on
// bios and uefi-x64, without expect:. Each case must pass by its family's
// default proof, and end as soon as it shows: under SeaBIOS both draw only
// on the VGA text screen (read through QEMU's monitor), under OVMF they
// also print on serial (iPXE then finds no network and returns to GRUB,
// which says "error: image not loaded.": still a pass).
func TestBootOfflineKit(t *testing.T) {
	if testing.Short() {
		testenv.Skip(t, "boot test: minutes under TCG; skipped with -short")
	}
	testenv.Tools(t, "qemu-system-x86_64")
	for _, iso := range []string{memtestISO, "/usr/lib/ipxe/ipxe.iso"} {
		if _, err := os.Stat(iso); err != nil {
			missingFile(t, iso, "memtest86+ ipxe")
		}
	}
	src, err := os.ReadFile("../examples/offline/debian-tools.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // the lock goes beside the manifest: not into the repository
	manifest := filepath.Join(dir, "debian-tools.yaml")
	if err := os.WriteFile(manifest, src, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k, err := Load(manifest, Options{Fetch: fetch.Options{CacheDir: filepath.Join(dir, "cache")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := k.BootTest(ctx, TestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	cases := runnerCases(t, run.Cases)
	for i := range cases {
		cases[i].Timeout = 3 * time.Minute
	}
	start := time.Now()
	r := &boottest.Runner{Image: run.Image, LogDir: logDir(t), OnEvent: func(e boottest.Event) {
		switch e.Kind {
		case boottest.EventDone:
			t.Logf("  %s on %s (%s): %s at %s", e.Case.Entry.Name, e.Case.Firmware, e.Result.Accel, e.Result.Status(), time.Since(start).Round(time.Second))
		case boottest.EventProbe:
			t.Logf("  KVM probe for %s: %q in %s", e.Probe.Kind, e.Probe.Why, e.Probe.Took.Round(100*time.Millisecond))
		}
	}}
	results, err := r.RunAll(ctx, cases)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	boottest.WriteTable(&table, results)
	t.Logf("in %s:\n%s", time.Since(start).Round(time.Second), table.String())
	if len(results) != 4 {
		t.Fatalf("want memtest and ipxe on bios and uefi-x64, got %d cases", len(results))
	}
	for _, res := range results {
		on := "serial"
		if res.Firmware == boottest.BIOS {
			on = "screen"
		}
		payload := map[string]boottest.Proof{"memtest": boottest.ProofMemtest, "ipxe": boottest.ProofIPXE}[res.Entry]
		if !res.Pass || res.Proof != boottest.ProofFamily || res.Payload != payload || res.MatchedOn != on || res.Milestone != boottest.MilestonePayload {
			t.Errorf("%s on %s: want a pass by %s's default proof on %s, got %+v\n%s", res.Entry, res.Firmware, payload, on, res, logTail(res.Log, 20))
			continue
		}
		if res.Firmware == boottest.BIOS {
			b, err := os.ReadFile(res.ScreenLog)
			if err != nil || !strings.Contains(string(b), res.Matched) {
				t.Errorf("%s on bios: the screen log %s must show %q: %v", res.Entry, res.ScreenLog, res.Matched, err)
			}
		}
	}
}

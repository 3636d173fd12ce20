package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// targetReads counts a test's reads of targets: whole (readTarget), and of
// the state record alone (readRecord).
type targetReads struct{ whole, record int }

func countReads(t *testing.T) *targetReads {
	n := &targetReads{}
	whole, record := readTarget, readRecord
	readTarget = func(f *os.File) (*converge.Target, error) { n.whole++; return whole(f) }
	readRecord = func(f *os.File) (*converge.Target, error) { n.record++; return record(f) }
	t.Cleanup(func() { readTarget, readRecord = whole, record })
	return n
}

// TestApplyReadsTheTargetOnce: converging a kit in place reads the target
// whole once, for the plan, on an image file and on a device; apply reads
// the state record alone again before it writes (and for devices, once
// before fetching, to tell a kit from a stick to erase). Before issue 23
// an image was read whole twice and a device three times.
func TestApplyReadsTheTargetOnce(t *testing.T) {
	testenv.Tools(t, "xorriso")
	t.Run("image", func(t *testing.T) {
		_, cache, img, two := twoKits(t, "uefi-x64")
		n := countReads(t)
		res, err := loadKit(t, two, cache).Apply(context.Background(), ApplyOptions{Image: img})
		if err != nil || !res.Image.Incremental {
			t.Fatalf("apply: %v", err)
		}
		t.Logf("reads of the image: %d whole, %d of the record alone", n.whole, n.record)
		if n.whole != 1 || n.record != 1 {
			t.Errorf("the image was read whole %d times and its record %d; want 1 and 1", n.whole, n.record)
		}
	})
	t.Run("device", func(t *testing.T) {
		testenv.Tools(t, "mkfs.ext4", "losetup")
		testenv.Loop(t)
		dir := t.TempDir()
		a, b := liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b")
		cache := filepath.Join(dir, "cache")
		dev := dirtyLoop(t, dir, "stick", 256<<20)
		if _, err := loadKit(t, kit(t, dir, "uefi-x64", a), cache).Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true}); err != nil {
			t.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "multiboot.lock"))
		n := countReads(t)
		res, err := loadKit(t, kit(t, dir, "uefi-x64", a, b), cache).Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true})
		if err != nil || len(res.Devices) != 1 || !res.Devices[0].Incremental {
			t.Fatalf("apply: %+v, %v", res, err)
		}
		t.Logf("reads of the device: %d whole, %d of the record alone", n.whole, n.record)
		if n.whole != 1 || n.record != 2 {
			t.Errorf("the device was read whole %d times and its record %d; want 1 and 2", n.whole, n.record)
		}
	})
}

// TestApplyRunsThePlannedDiff: the diff `compose plan --json` prints is,
// byte for byte, the one apply runs and reports, and the target then holds
// the planned record exactly.
func TestApplyRunsThePlannedDiff(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	for _, fw := range []string{"uefi-x64", "bios, uefi-x64"} {
		t.Run(fw, func(t *testing.T) {
			_, cache, img, two := twoKits(t, fw)
			k := loadKit(t, two, cache)
			printed, err := k.Plan(context.Background(), img)
			if err != nil || printed.Diff == nil || printed.Diff.NoChanges {
				t.Fatalf("plan: %+v, %v", printed, err)
			}
			want := mustJSON(t, printed.Diff)
			var ran *Plan
			res, err := k.Apply(context.Background(), ApplyOptions{Image: img, Planned: func(p *Plan) { ran = p }})
			if err != nil {
				t.Fatal(err)
			}
			if got := mustJSON(t, ran.Diff); !bytes.Equal(got, want) {
				t.Fatalf("apply ran the diff\n%s\nplan printed\n%s", got, want)
			}
			if got := mustJSON(t, res.Image.Changes); !bytes.Equal(got, mustJSON(t, printed.Diff.Changes)) || res.Image.Steps != printed.Diff.Steps {
				t.Fatalf("apply reports the changes\n%s (%d steps)\nplan printed\n%s", got, res.Image.Steps, want)
			}
			tg := checkKit(t, img)
			if d := converge.MakeDiff(printed.desired, tg); !d.NoChanges {
				t.Fatalf("after apply the kit differs from the plan: %s", ops(d))
			}
		})
	}
}

// TestApplyRefusesATargetChangedSincePlan: a plan is applied only to the
// target it read; once the target's record changed (here: the plan was
// applied already) the same plan is refused, and nothing is written.
func TestApplyRefusesATargetChangedSincePlan(t *testing.T) {
	testenv.Tools(t, "xorriso")
	_, cache, img, two := twoKits(t, "uefi-x64")
	p := planAgainst(t, two, cache, img)
	if _, err := Build(context.Background(), p, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	before := sha256File(t, img)
	_, err := Build(context.Background(), p, BuildOptions{})
	if !errors.Is(err, converge.ErrChanged) || !strings.Contains(err.Error(), "plan again") {
		t.Fatalf("second apply of one plan: %v; want converge.ErrChanged", err)
	}
	if sha256File(t, img) != before {
		t.Fatal("the refused apply wrote the target")
	}
	if _, err := Build(context.Background(), planAgainst(t, two, cache, img), BuildOptions{}); err != nil {
		t.Fatalf("a new plan: %v", err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

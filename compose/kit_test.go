package compose

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// loopDevice attaches a fresh sparse file of size bytes to a loop device.
func loopDevice(t *testing.T, size int64) string {
	t.Helper()
	testenv.Loop(t)
	testenv.Tools(t, "mkfs.ext4", "mount", "umount")
	backing := filepath.Join(t.TempDir(), "stick.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	dev := strings.TrimSpace(testenv.Run(t, "losetup", "-f", "--show", backing))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// A device mounted between the checks and the write (while the kit was
// built) is refused when opened: nothing was written to it, so the result
// says so and the error is a refusal (exit 5), not "incomplete".
func TestKitDeviceMountedDuringBuild(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dev := loopDevice(t, 256<<20)
	dir := t.TempDir()
	m := kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a"))
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(dir, "cache")
	mnt := t.TempDir()
	confirm := func([]Stick) error {
		testenv.Run(t, "mkfs.ext4", "-q", "-F", dev)
		testenv.Run(t, "mount", dev, mnt)
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		return nil
	}
	res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true, Confirm: confirm})
	if !errors.Is(err, ErrUnsafeTarget) || errors.Is(err, ErrWriteFailed) {
		t.Fatalf("Apply: got %v, want a refusal (ErrUnsafeTarget) and not ErrWriteFailed", err)
	}
	if res == nil || len(res.Devices) != 1 {
		t.Fatalf("want one device result, got %+v", res)
	}
	r := res.Devices[0]
	if r.Touched || r.Complete || !strings.Contains(r.Error, "mounted") {
		t.Errorf("result %+v: want untouched, incomplete, refused as mounted", r)
	}
}

// The same disk named twice (here through a symbolic link) is refused
// before anything is built: writing it twice at once cannot succeed.
func TestKitDeviceNamedTwice(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dev := loopDevice(t, 256<<20)
	dir := t.TempDir()
	m := kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a"))
	link := filepath.Join(dir, "stick")
	if err := os.Symlink(dev, link); err != nil {
		t.Fatal(err)
	}
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(dir, "cache")
	built := false
	res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev, link}, Force: true,
		Confirm: func([]Stick) error { built = true; return nil }})
	if !errors.Is(err, ErrDuplicateDevice) || !strings.Contains(err.Error(), "named twice (also as "+dev+")") {
		t.Fatalf("Apply: got %v, want ErrDuplicateDevice naming %s", err, dev)
	}
	if res != nil || built {
		t.Errorf("something went on after the refusal: result %+v, confirmed %t", res, built)
	}
}

// A cancelled context stops planning (inspecting every cached ISO can take
// long on a big kit): compose exits 130 promptly on SIGINT/SIGTERM.
func TestPlanStopsWhenCancelled(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	m := kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a"), liveISO(t, dir, "beta", "b"))
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(dir, "cache")
	if _, err := k.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p, err := k.Plan(ctx, ""); !errors.Is(err, context.Canceled) {
		t.Fatalf("Plan with a cancelled context: got plan %v, error %v; want context.Canceled", p != nil, err)
	}
}

// TestKitDeviceInterruptedSaysSo: Ctrl-C while a stick is written leaves
// it incomplete, and its result (which --json prints beside the error
// object) says "interrupted". Found by the recheck pass: it said
// "/dev/loopN: the device is incomplete: context canceled".
func TestKitDeviceInterruptedSaysSo(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dev := loopDevice(t, 256<<20)
	dir := t.TempDir()
	m := kit(t, dir, "bios, uefi-x64", liveISO(t, dir, "alpha", "a"))
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(dir, "cache")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progress := func(e Event) {
		if e.Phase == PhaseWrite && e.Done > 0 {
			cancel()
		}
	}
	res, err := k.Apply(ctx, ApplyOptions{Devices: []string{dev}, Force: true, Confirm: func([]Stick) error { return nil }, Progress: progress})
	if !errors.Is(err, context.Canceled) || res == nil || len(res.Devices) != 1 {
		t.Fatalf("Apply: %+v, %v; want context.Canceled with one device result", res, err)
	}
	r := res.Devices[0]
	if r.Complete || !r.Touched || !strings.Contains(r.Error, "interrupted") || strings.Contains(r.Error, "context canceled") {
		t.Fatalf("the stick's result: %+v; want incomplete, saying interrupted", r)
	}
}

package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/internal/stale"
	"github.com/usbkit/compose/config"
)

// TestOptions tune Kit.BootTest.
type TestOptions struct {
	// Image is a built kit to test; "" builds the kit first (as Apply) into
	// a scratch file that TestRun.Close removes.
	Image string
	// Machines to boot on; nil means BootMachines of the manifest.
	Machines []Machine
	// Entries to boot, by name; nil means all.
	Entries []string
	// Planned and Progress are as in ApplyOptions, for the build.
	Planned  func(*Plan)
	Progress func(Event)
}

// TestRun is what a boot test runs: the image and one case per entry and
// machine. compose runs no QEMU itself: the caller hands the cases to a
// runner (compose/boottest), which keeps this package free of it.
type TestRun struct {
	Image string
	Cases []BootCase
	// Volume is the FAT label of the kit's ESP, as MokManager lists it when a case's
	// certificates are enrolled from the stick.
	Volume string
	dir    string
	// held is the image given, locked shared until Close: an apply of it
	// is refused while the test boots it.
	held *os.File
}

// Close releases the image and removes the scratch image, if one was
// built.
func (r *TestRun) Close() error {
	if r.held != nil {
		r.held.Close()
		r.held = nil
	}
	if r.dir == "" {
		return nil
	}
	return os.RemoveAll(r.dir)
}

// BootTest prepares a boot test of the kit: it needs a current lock and a
// menu on the serial console (a vga-only menu cannot be driven headless),
// builds the image unless one is given, and lists the cases.
func (k *Kit) BootTest(ctx context.Context, opts TestOptions) (*TestRun, error) {
	if _, err := k.pinned(); err != nil {
		return nil, err
	}
	if k.m.Menu.Console == config.ConsoleVGA {
		return nil, fmt.Errorf("%s: menu.console is vga: compose test reads the menu on the serial console; set it to serial or both", k.m.File)
	}
	run := &TestRun{Image: opts.Image}
	if run.Image != "" {
		// What a killed apply of this image left beside it.
		stale.Collect(filepath.Dir(run.Image), "."+filepath.Base(run.Image)+".", "apply", ".tmp")
		f, err := imagefile.OpenReading(run.Image, "test")
		if err != nil {
			return nil, err
		}
		run.held = f
	}
	if run.Image == "" {
		stale.Collect(os.TempDir(), "", "test", "")
		dir, err := os.MkdirTemp("", stale.Pattern("", "test", ""))
		if err != nil {
			return nil, fmt.Errorf("creating the scratch directory the kit is built in for the test ($TMPDIR): %w", err)
		}
		run.dir, run.Image = dir, filepath.Join(dir, "kit.img")
		_, err = k.Apply(ctx, ApplyOptions{Image: run.Image, Planned: opts.Planned, Progress: opts.Progress})
		if err != nil {
			run.Close()
			return nil, err
		}
	}
	p, err := k.Plan(ctx, run.Image)
	if err == nil {
		run.Cases, err = k.bootCases(p, opts)
	}
	if err != nil {
		run.Close()
		return nil, err
	}
	run.Volume = p.ESPLabel()
	return run, nil
}

// ESPLabel is the FAT label of the plan's EFI system partition ("" without one).
func (p *Plan) ESPLabel() string {
	for _, pp := range p.Partitions {
		if pp.FS == "fat32" {
			return pp.Label
		}
	}
	return ""
}

func (k *Kit) bootCases(p *Plan, opts TestOptions) ([]BootCase, error) {
	ms := opts.Machines
	if ms == nil {
		ms = BootMachines(k.m)
	}
	all, err := p.BootCases(k.m, ms)
	if err != nil {
		return nil, err
	}
	var out []BootCase
	for _, c := range all {
		if len(opts.Entries) == 0 || slices.Contains(opts.Entries, c.Entry) {
			out = append(out, c)
		}
	}
	return out, nil
}

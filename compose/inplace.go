package compose

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/imagefile"
)

// The target's readers: the plan reads it whole (its GPT, record and the
// drift checks), apply its record alone again. Tests count the reads.
var (
	readTarget = converge.Read
	readRecord = converge.ReadRecord
)

// ErrNotPlanned is matched when apply finds a kit to change in place at a
// target its plan did not read (planned as a new image, or with
// Recreate): nothing was written.
var ErrNotPlanned = errors.New("the plan has no diff for this target")

// convergeFile converges the kit in f (the target at p.Image, opened once
// by the caller) in place: it runs p.Diff, made when the plan read f,
// through converge.Run, after checking that f's state record is still the
// one the plan read (converge.ErrChanged otherwise). It refuses
// (converge.RecreateError) what cannot be changed in place.
func convergeFile(ctx context.Context, p *Plan, f *os.File, opts BuildOptions) (*Result, error) {
	if p.Diff == nil {
		return nil, fmt.Errorf("%s: %w (planned as a new image or a full rewrite): plan again; nothing was written", f.Name(), ErrNotPlanned)
	}
	now, err := readRecord(f)
	if err != nil {
		return nil, err
	}
	if err := p.target.Unchanged(now); err != nil {
		return nil, err
	}
	d := p.Diff
	res := &Result{Image: p.target.Path, Incremental: true, Changes: d.Changes, Steps: d.Steps}
	if fi, err := f.Stat(); err == nil {
		res.Size = fi.Size()
	}
	w, err := converge.Run(ctx, f, p.target, d, p.goal, converge.Options{NoVerify: opts.NoVerify, Progress: convergeEvents(opts.Progress),
		Wrap: opts.wrap, BeforeVerify: opts.beforeVerify, Chunk: opts.chunk, OpenDirect: opts.openDirect})
	if w == nil {
		return nil, err
	}
	res.BytesWritten, res.Direct, res.Warnings = w.BytesWritten, w.Direct, w.Warnings
	return opts.verifyConverged(ctx, res, err, f)
}

// convergeHeld converges the image file h holds, and says so when the path
// no longer names that file once it is done.
func convergeHeld(ctx context.Context, p *Plan, h *imagefile.Held, opts BuildOptions) (*Result, error) {
	res, err := convergeFile(ctx, p, h.File(), opts)
	if err == nil && res.BytesWritten > 0 {
		if err = h.StillThere(); err != nil {
			err = fmt.Errorf("%w; the kit was written to the file that was there when apply started", err)
		}
	}
	return res, err
}

// goalFor is what converge.Run makes of a target for diff d: the planned
// record and files, and for a two-step apply the interim menu and record.
func (p *Plan) goalFor(d *converge.Diff) (converge.Goal, error) {
	g := converge.Goal{Record: p.desired, Time: p.lay.Time}
	if esp := p.lay.Partition(disk.FSFAT32); esp != nil {
		g.ESP = esp.Files
	}
	if data := p.lay.Partition(disk.FSExt4); data != nil {
		g.Data = data.Files
	}
	if d.Interim == nil {
		return g, nil
	}
	var err error
	g.InterimMenu, g.InterimRecord, err = p.interim(d)
	return g, err
}

// convergeEvents adapts converge's progress: one task per phase, as for a
// full build, with the step named for a two-step apply (a finished task
// does not restart).
func convergeEvents(progress func(Event)) func(disk.Event, int, int) {
	if progress == nil {
		return nil
	}
	return func(e disk.Event, step, steps int) {
		imageEvents(func(ev Event) {
			if steps > 1 {
				ev.Task = fmt.Sprintf("%s (step %d of %d)", ev.Task, step, steps)
			}
			progress(ev)
		})(e)
	}
}

// verifyConverged follows an in-place apply (or its no-op): it says how
// much of the ISOs were checked and, with opts.Verify, reads the whole
// target against the record it now holds. Damage fails the apply with a
// *DamageError; a full write needs no such pass: it is read back whole.
func (opts BuildOptions) verifyConverged(ctx context.Context, res *Result, err error, f *os.File) (*Result, error) {
	if err != nil || res == nil || !res.Incremental {
		return res, err
	}
	res.ISOCheck = converge.ISOCheckSampled
	if !opts.Verify {
		return res, nil
	}
	v, err := verifyFile(ctx, f, nil, opts.Progress, opts.openDirect)
	if v != nil {
		res.Verification, res.ISOCheck = v, converge.ISOCheckFull
	}
	return res, err
}

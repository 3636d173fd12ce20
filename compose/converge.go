package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/directio"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/config/digest"
)

// converge changes the kit in f (the image or device at p.Image, opened
// once by the caller) into the one p plans, in place: only
// the files in the diff are written, in fatedit's crash-safe order, and the
// state record swaps with the menu, in one step or two (Diff.Interim), each
// read back. On the ext4 data partition (dataStep) the new files are
// written before the swap and the old ones removed after it. It refuses
// (RecreateError) what it cannot change in place.
func converge(ctx context.Context, p *Plan, t *Target, f *os.File, opts BuildOptions) (*Result, error) {
	d, err := MakeDiff(p, t)
	if err != nil {
		return nil, err
	}
	if len(d.Recreate) > 0 {
		return nil, &RecreateError{Target: t.Path, Reasons: d.Recreate}
	}
	res := &Result{Image: t.Path, Incremental: true, Changes: d.Changes, Steps: d.Steps}
	if fi, err := f.Stat(); err == nil {
		res.Size = fi.Size()
	}
	if d.NoChanges {
		return res, nil
	}
	steps, err := p.espSteps(d, p.lay.Partition(disk.FSFAT32))
	if err != nil {
		return nil, err
	}
	data := p.dataStepOf(d, t)
	var dev fatedit.Device = f
	if opts.wrap != nil {
		dev = opts.wrap(f)
	}
	if data != nil {
		if err := data.write(ctx, f, dev, p, opts, res); err != nil {
			return res, err
		}
	}
	if err := runSteps(ctx, f, dev, partOffset(t, espIndex(p.desired)), steps, p, opts, res); err != nil {
		return res, err
	}
	if data != nil {
		return res, data.finish(ctx, f, dev, p, opts, res)
	}
	return res, nil
}

// runSteps runs the ESP's steps in order.
func runSteps(ctx context.Context, f *os.File, dev fatedit.Device, off int64, steps []*step, p *Plan, opts BuildOptions, res *Result) error {
	for i, s := range steps {
		o := opts
		if len(steps) > 1 && opts.Progress != nil {
			// One progress line per step: a finished task does not restart.
			o.Progress = func(e Event) {
				e.Task = fmt.Sprintf("%s (step %d of %d)", e.Task, i+1, len(steps))
				opts.Progress(e)
			}
		}
		if err := s.apply(ctx, f, dev, off, p, o, res); err != nil {
			return err
		}
	}
	return nil
}

// step is one commit of an in-place apply: file writes and removals on
// the ESP, and the expected SHA-256 of each written file where known.
type step struct {
	changes []edit.Change
	want    map[string]string
}

// apply runs the step on the ESP at off and reads what it wrote back.
func (s *step) apply(ctx context.Context, f *os.File, dev fatedit.Device, off int64, p *Plan, opts BuildOptions, res *Result) error {
	v, err := fatedit.Open(dev, off)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	st, err := v.Update(ctx, s.changes, edit.Options{Time: p.lay.Time, Chunk: opts.chunk, Progress: placeEvents(imageEvents(opts.Progress))})
	res.BytesWritten += st.Written
	if err != nil {
		return fmt.Errorf("updating %s: %w", f.Name(), err)
	}
	if err := s.checkSources(st.SHA256); err != nil {
		return err
	}
	if opts.NoVerify {
		return nil
	}
	if opts.beforeVerify != nil {
		opts.beforeVerify()
	}
	if err := res.verified(verifyWritten(ctx, f, st.SHA256, openFAT(off), imageEvents(opts.Progress))); err != nil {
		return fmt.Errorf("reading back %s after its change was committed: %w", f.Name(), err)
	}
	return nil
}

// verified records how a read-back went.
func (res *Result) verified(direct bool, warning string, err error) error {
	res.Direct = direct
	if warning != "" && !slices.Contains(res.Warnings, warning) {
		res.Warnings = append(res.Warnings, warning)
	}
	return err
}

// openFAT opens the ESP at off for the read-back.
func openFAT(off int64) func(io.ReaderAt) (opener, error) {
	return func(r io.ReaderAt) (opener, error) { return fatedit.Open(readOnly{r}, off) }
}

func partOffset(t *Target, index int) int64 {
	for _, p := range t.Partitions {
		if p.Index == index {
			return p.Offset
		}
	}
	return -1
}

// espSteps turns the diff into the steps that make it: one, or for a
// two-step apply (d.Interim) first the removals, boot file changes and the
// interim menu and record, then the new ISOs and the final menu. Each
// step ends with the state record (Update commits its changes together).
// Changes on the data partition are dataStep's, but any change other than
// a leftover's removal changes the record; with none there is no step.
func (p *Plan) espSteps(d *Diff, esp *disk.Partition) ([]*step, error) {
	files := map[string]disk.File{}
	for _, f := range esp.Files {
		files[f.Path] = f
	}
	if !slices.ContainsFunc(d.Changes, changesRecord) {
		return nil, nil
	}
	first, last := newStep(), newStep()
	for _, c := range d.Changes {
		switch {
		case c.Partition != esp.Index && c.Partition != 0:
		case d.Interim == nil:
			last.change(c, files)
		case c.Kind == "iso" && c.Op == "~":
			first.changes = append(first.changes, edit.Change{Path: c.Path, Remove: true})
			last.change(c, files)
		case c.Kind == "iso" && c.Op == "+":
			last.change(c, files)
		case c.Kind != "menu": // the final menu is written in the last step anyway
			first.change(c, files)
		}
	}
	last.add(files[StatePath])
	if d.Interim == nil {
		return []*step{last}, nil
	}
	menu, state, err := p.interim(d)
	if err != nil {
		return nil, err
	}
	first.add(disk.File{Path: bootloader.ConfigPath, Data: menu})
	first.add(disk.File{Path: StatePath, Data: state})
	// The interim menu replaced the old one: the final one is always written.
	if !slices.ContainsFunc(last.changes, func(c edit.Change) bool { return c.Path == bootloader.ConfigPath }) {
		last.add(files[bootloader.ConfigPath])
	}
	return []*step{first, last}, nil
}

// checkSources compares the digests of what was written with the
// sources' known ones.
func (s *step) checkSources(written map[string]string) error {
	for path, sum := range written {
		if w := s.want[path]; w != "" && w != sum {
			return fmt.Errorf("%s: the source changed while it was written (sha256 %s, want %s); run apply again", path, sum, w)
		}
	}
	return nil
}

func newStep() *step { return &step{want: map[string]string{}} }

// change adds the write or removal c to the step.
func (s *step) change(c Change, files map[string]disk.File) {
	if c.Op == "-" {
		s.changes = append(s.changes, edit.Change{Path: c.Path, Remove: true})
	} else if f, ok := files[c.Path]; ok {
		s.add(f)
	}
}

// add writes f: from its source file, or its data.
func (s *step) add(f disk.File) {
	size := f.Size
	if f.Source == "" {
		size = int64(len(f.Data))
		s.want[f.Path] = sha256Hex(f.Data)
	} else if f.SHA256 != "" {
		s.want[f.Path] = f.SHA256
	}
	s.changes = append(s.changes, edit.Change{Path: f.Path, Size: size, Open: func() (io.ReadCloser, error) {
		if f.Source != "" {
			return os.Open(f.Source)
		}
		return io.NopCloser(bytes.NewReader(f.Data)), nil
	}})
}

func placeEvents(progress func(disk.Event)) func(done, total int64) {
	if progress == nil {
		return nil
	}
	return func(done, total int64) {
		progress(disk.Event{Kind: disk.EventPlace, AllDone: done, AllTotal: total})
	}
}

// openDirect is directio.OpenFile (the file written, not its path); tests
// make it refuse.
var openDirect = directio.OpenFile

// verifyWritten reads every written file back through a fresh look at the
// volume and compares digests. It reads with O_DIRECT, so that the check
// sees the medium and not the page cache; where the file system refuses
// direct I/O it drops the cached pages instead and says why (warning).
func verifyWritten(ctx context.Context, f *os.File, sums map[string]string, open func(io.ReaderAt) (opener, error), progress func(disk.Event)) (direct bool, warning string, err error) {
	if err := f.Sync(); err != nil {
		return false, "", err
	}
	var src io.ReaderAt = f
	r, err := openDirect(f)
	switch {
	case err == nil:
		defer r.Close()
		src, direct = r, true
	case errors.Is(err, directio.ErrRefused):
		dropCache(f)
		warning = fmt.Sprintf("read back after dropping the page cache, not bypassing it: %v", err)
	default:
		return false, "", fmt.Errorf("verifying %s: %w", f.Name(), err)
	}
	v, err := open(src)
	if err != nil {
		return direct, warning, fmt.Errorf("verifying %s: %w", f.Name(), err)
	}
	return direct, warning, checkSums(ctx, v, sums, progress)
}

// checkSums hashes each file in sums on v and compares.
func checkSums(ctx context.Context, v opener, sums map[string]string, progress func(disk.Event)) error {
	var total, done int64
	for path := range sums {
		if r, err := v.Open(path); err == nil {
			total += r.Size()
		}
	}
	buf := make([]byte, 4<<20) // large reads: each is a trip to the device
	for path, want := range sums {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := v.Open(path)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", path, err)
		}
		// A 4 GiB ISO on a USB stick takes minutes: Ctrl-C ends it at
		// the next read, not at the next file.
		got, err := digest.Of(ctx, "sha256", r, buf)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", path, err)
		}
		if got != want {
			return fmt.Errorf("verifying %s: read back sha256 %s, wrote %s", path, got, want)
		}
		done += r.Size()
		if progress != nil {
			progress(disk.Event{Kind: disk.EventVerify, Path: path, AllDone: done, AllTotal: total})
		}
	}
	return nil
}

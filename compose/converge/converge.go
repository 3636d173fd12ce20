package converge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/directio"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/config/digest"
)

// Goal is the kit Run makes of a target: plain data, rendered by the
// planner.
type Goal struct {
	// Record is the state record the kit will hold.
	Record *KitState
	// ESP and Data are every file of the ESP (the record and the final
	// menu included) and of the ext4 data partition, as planned; Run
	// writes the ones the diff adds or replaces.
	ESP, Data []disk.File
	// InterimMenu and InterimRecord are a two-step apply's first menu and
	// record (Diff.Interim), nil for a one-step apply.
	InterimMenu, InterimRecord []byte
	// Time stamps what is written.
	Time time.Time
}

// Options tune Run.
type Options struct {
	// NoVerify skips reading each commit back.
	NoVerify bool
	// Progress is told the bytes placed and read back, with the ESP's
	// step for a two-step apply (1 or 2 of 2; 0 of 0 otherwise and for
	// the data partition).
	Progress func(e disk.Event, step, steps int)

	// Tests only: Wrap injects faults into the target's writes,
	// BeforeVerify runs after a step is written and synced and before it
	// is read back, Chunk is the content write size, OpenDirect refuses
	// O_DIRECT.
	Wrap         func(*os.File) fatedit.Device
	BeforeVerify func()
	Chunk        int
	OpenDirect   DirectOpener
}

// Result is what Run wrote.
type Result struct {
	// BytesWritten counts bytes written to the target.
	BytesWritten int64
	// Direct is true when what was written was read back with O_DIRECT,
	// bypassing the page cache; Warnings say why not where it was refused.
	Direct   bool
	Warnings []string
}

// Run changes the kit in f (the target t was read from, opened once by
// the caller) into g, in place: only the files in the diff d are written,
// in fatedit's crash-safe order, and the state record swaps with the
// menu, in one step or two (Diff.Interim), each read back. On the ext4
// data partition (ext4Step) the new files are written before the swap and
// the old ones removed after it. It refuses (RecreateError) a diff that
// cannot be made in place.
func Run(ctx context.Context, f *os.File, t *Target, d *Diff, g Goal, opts Options) (*Result, error) {
	if len(d.Recreate) > 0 {
		return nil, &RecreateError{Target: t.Path, Reasons: d.Recreate}
	}
	res := &Result{}
	if d.NoChanges {
		return res, nil
	}
	steps, err := espSteps(d, g)
	if err != nil {
		return nil, err
	}
	data := ext4StepOf(d, t, g)
	var dev fatedit.Device = f
	if opts.Wrap != nil {
		dev = opts.Wrap(f)
	}
	r := run{f: f, dev: dev, time: g.Time, opts: opts, res: res}
	if data != nil {
		if err := data.write(ctx, r); err != nil {
			return res, err
		}
	}
	if err := r.steps(ctx, t.Offset(g.Record.ESPIndex()), steps); err != nil {
		return res, err
	}
	if data != nil {
		return res, data.finish(ctx, r)
	}
	return res, nil
}

// run is one Run's target and what it did.
type run struct {
	f    *os.File
	dev  fatedit.Device
	time time.Time
	opts Options
	res  *Result
}

// events adapts the editors' progress for step of steps.
func (r run) events(step, steps int) func(disk.Event) {
	if r.opts.Progress == nil {
		return nil
	}
	return func(e disk.Event) { r.opts.Progress(e, step, steps) }
}

// steps runs the ESP's steps in order.
func (r run) steps(ctx context.Context, off int64, steps []*step) error {
	for i, s := range steps {
		events := r.events(0, 0)
		if len(steps) > 1 {
			events = r.events(i+1, len(steps))
		}
		if err := s.apply(ctx, r, off, events); err != nil {
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
func (s *step) apply(ctx context.Context, r run, off int64, events func(disk.Event)) error {
	v, err := fatedit.Open(r.dev, off)
	if err != nil {
		return fmt.Errorf("%s: %w", r.f.Name(), err)
	}
	st, err := v.Update(ctx, s.changes, edit.Options{Time: r.time, Chunk: r.opts.Chunk, Progress: placeEvents(events)})
	r.res.BytesWritten += st.Written
	if err != nil {
		return fmt.Errorf("updating %s: %w", r.f.Name(), err)
	}
	if err := s.checkSources(st.SHA256); err != nil {
		return err
	}
	if r.opts.NoVerify {
		return nil
	}
	if r.opts.BeforeVerify != nil {
		r.opts.BeforeVerify()
	}
	if err := r.res.verified(verifyWritten(ctx, r.f, st.SHA256, openFAT(off), events, r.opts.OpenDirect)); err != nil {
		return fmt.Errorf("reading back %s after its change was committed: %w", r.f.Name(), err)
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

// Offset is where partition index starts on the target, -1 when it has
// none.
func (t *Target) Offset(index int) int64 {
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
func espSteps(d *Diff, g Goal) ([]*step, error) {
	esp := g.Record.ESPIndex()
	files := map[string]disk.File{}
	for _, f := range g.ESP {
		files[f.Path] = f
	}
	if !slices.ContainsFunc(d.Changes, changesRecord) {
		return nil, nil
	}
	first, last := newStep(), newStep()
	for _, c := range d.Changes {
		switch {
		case c.Partition != esp && c.Partition != 0:
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
	if g.InterimMenu == nil || g.InterimRecord == nil {
		return nil, errors.New("a two-step apply without its interim menu and record")
	}
	first.add(disk.File{Path: bootloader.ConfigPath, Data: g.InterimMenu})
	first.add(disk.File{Path: StatePath, Data: g.InterimRecord})
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

// verifyWritten reads every written file back through a fresh look at the
// volume and compares digests. It reads with O_DIRECT, so that the check
// sees the medium and not the page cache; where the file system refuses
// direct I/O it drops the cached pages instead and says why (warning).
func verifyWritten(ctx context.Context, f *os.File, sums map[string]string, open func(io.ReaderAt) (opener, error), progress func(disk.Event), openDirect DirectOpener) (direct bool, warning string, err error) {
	if err := f.Sync(); err != nil {
		return false, "", err
	}
	if openDirect == nil {
		openDirect = directio.OpenFile // the file written, not its path
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

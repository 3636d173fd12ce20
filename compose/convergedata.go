package compose

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/ext4edit"
	"github.com/usbkit/compose/config/digest"
)

// dataStep is the in-place change of the ext4 data partition, in two
// journaled updates around the ESP's menu swap: the new files (under new
// paths) before it, the old ones' removal after it. A kill before the swap
// leaves files the record does not name, one after it old files; both are
// leftovers the next apply removes (TargetData.Leftovers).
type dataStep struct {
	off     int64
	adds    []disk.File
	reuse   map[string]bool // leftovers to keep if their digest matches
	removes []string
}

// dataStepOf collects the diff's changes on the data partition; nil when
// there are none.
func (p *Plan) dataStepOf(d *Diff, t *Target) *dataStep {
	part := p.lay.Partition(disk.FSExt4)
	if part == nil || (!d.Replay && !touches(d, part.Index)) {
		return nil
	}
	files := map[string]disk.File{}
	for _, f := range part.Files {
		files[f.Path] = f
	}
	s := &dataStep{off: partOffset(t, part.Index), reuse: map[string]bool{}}
	for _, c := range d.Changes {
		switch {
		case c.Partition != part.Index:
		case c.Op == "-":
			s.removes = append(s.removes, c.Path)
		default:
			s.adds = append(s.adds, files[c.Path])
			s.reuse[c.Path] = c.Leftover
			if c.OldPath != "" {
				s.removes = append(s.removes, c.OldPath)
			}
		}
	}
	return s
}

func touches(d *Diff, index int) bool {
	for _, c := range d.Changes {
		if c.Partition == index {
			return true
		}
	}
	return false
}

// write replays the journal if an interrupted apply left it to replay,
// then writes the new files and reads them back.
func (s *dataStep) write(ctx context.Context, f *os.File, dev ext4edit.Device, p *Plan, opts BuildOptions, res *Result) error {
	v, err := s.open(dev)
	if err != nil {
		return err
	}
	adds, stale, err := s.checkLeftovers(ctx, v)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if _, err := s.update(ctx, f, v, removals(stale), p, opts, res); err != nil {
			return err
		}
	}
	if len(adds) == 0 {
		return nil
	}
	w := newStep()
	for _, a := range adds {
		w.add(a)
	}
	st, err := s.update(ctx, f, v, w.changes, p, opts, res)
	if err != nil {
		return err
	}
	if err := w.checkSources(st.SHA256); err != nil {
		return err
	}
	return s.verify(ctx, f, st.SHA256, opts, res)
}

// finish removes the replaced and removed files, after the menu swap.
func (s *dataStep) finish(ctx context.Context, f *os.File, dev ext4edit.Device, p *Plan, opts BuildOptions, res *Result) error {
	if len(s.removes) == 0 {
		return nil
	}
	v, err := s.open(dev)
	if err != nil {
		return err
	}
	_, err = s.update(ctx, f, v, removals(s.removes), p, opts, res)
	return err
}

// open opens the data partition, replaying its journal first if needed.
func (s *dataStep) open(dev ext4edit.Device) (*ext4edit.Volume, error) {
	v, err := ext4edit.Open(dev, s.off)
	if err != nil {
		return nil, fmt.Errorf("data partition: %w", err)
	}
	if !v.NeedsRecovery() {
		return v, nil
	}
	if err := v.Recover(); err != nil {
		return nil, fmt.Errorf("data partition: replaying its journal: %w", err)
	}
	if v, err = ext4edit.Open(dev, s.off); err != nil {
		return nil, fmt.Errorf("data partition: %w", err)
	}
	return v, nil
}

// checkLeftovers hashes each leftover the plan would keep: one whose
// pinned digest matches is not written again; one that does not is
// removed first (stale) and written.
func (s *dataStep) checkLeftovers(ctx context.Context, v *ext4edit.Volume) (adds []disk.File, stale []string, err error) {
	for _, f := range s.adds {
		if !s.reuse[f.Path] {
			adds = append(adds, f)
			continue
		}
		ok, err := hasDigest(ctx, v, f)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			adds, stale = append(adds, f), append(stale, f.Path)
		}
	}
	return adds, stale, nil
}

// hasDigest reports whether the file at f.Path on v is f's pinned bytes.
func hasDigest(ctx context.Context, v *ext4edit.Volume, f disk.File) (bool, error) {
	r, err := v.Open(f.Path)
	if err != nil || r.Size() != f.Size || f.Digest == "" {
		return false, nil
	}
	sum, err := digest.Of(ctx, f.Algorithm, r, make([]byte, 4<<20))
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", f.Path, err)
	}
	return strings.EqualFold(sum, f.Digest), nil
}

func (s *dataStep) update(ctx context.Context, f *os.File, v *ext4edit.Volume, changes []edit.Change, p *Plan, opts BuildOptions, res *Result) (edit.Stats, error) {
	st, err := v.Update(ctx, changes, edit.Options{Time: p.lay.Time, Chunk: opts.chunk, Progress: placeEvents(imageEvents(opts.Progress))})
	res.BytesWritten += st.Written
	if err != nil {
		return st, fmt.Errorf("updating the data partition of %s: %w", f.Name(), err)
	}
	return st, nil
}

// verify checks what the update wrote against the sources' digests and
// reads it back with the page cache bypassed.
func (s *dataStep) verify(ctx context.Context, f *os.File, want map[string]string, opts BuildOptions, res *Result) error {
	if opts.NoVerify {
		return nil
	}
	if opts.beforeVerify != nil {
		opts.beforeVerify()
	}
	open := func(r io.ReaderAt) (opener, error) { return ext4edit.Open(readOnly{r}, s.off) }
	if err := res.verified(verifyWritten(ctx, f, want, open, imageEvents(opts.Progress))); err != nil {
		return fmt.Errorf("reading back the data partition of %s: %w", f.Name(), err)
	}
	return nil
}

func removals(paths []string) []edit.Change {
	out := make([]edit.Change, len(paths))
	for i, p := range paths {
		out[i] = edit.Change{Path: p, Remove: true}
	}
	return out
}

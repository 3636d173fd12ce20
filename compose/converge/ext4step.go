package converge

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/ext4edit"
	"github.com/usbkit/compose/config/digest"
)

// ext4Step is the in-place change of the ext4 data partition, in two
// journaled updates around the ESP's menu swap: the new files (under new
// paths) before it, the old ones' removal after it. A kill before the swap
// leaves files the record does not name, one after it old files; both are
// leftovers the next apply removes (TargetData.Leftovers).
type ext4Step struct {
	off     int64
	adds    []disk.File
	reuse   map[string]bool // leftovers to keep if their digest matches
	removes []string
}

// ext4StepOf collects the diff's changes on the data partition; nil when
// there are none.
func ext4StepOf(d *Diff, t *Target, g Goal) *ext4Step {
	index := g.Record.DataIndex()
	if index == 0 || (!d.Replay && !touches(d, index)) {
		return nil
	}
	files := map[string]disk.File{}
	for _, f := range g.Data {
		files[f.Path] = f
	}
	s := &ext4Step{off: t.Offset(index), reuse: map[string]bool{}}
	for _, c := range d.Changes {
		switch {
		case c.Partition != index:
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
func (s *ext4Step) write(ctx context.Context, r run) error {
	v, err := s.open(r.dev)
	if err != nil {
		return err
	}
	adds, stale, err := s.checkLeftovers(ctx, v)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		if _, err := s.update(ctx, r, v, removals(stale)); err != nil {
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
	st, err := s.update(ctx, r, v, w.changes)
	if err != nil {
		return err
	}
	if err := w.checkSources(st.SHA256); err != nil {
		return err
	}
	return s.verify(ctx, r, st.SHA256)
}

// finish removes the replaced and removed files, after the menu swap.
func (s *ext4Step) finish(ctx context.Context, r run) error {
	if len(s.removes) == 0 {
		return nil
	}
	v, err := s.open(r.dev)
	if err != nil {
		return err
	}
	_, err = s.update(ctx, r, v, removals(s.removes))
	return err
}

// open opens the data partition, replaying its journal first if needed.
func (s *ext4Step) open(dev ext4edit.Device) (*ext4edit.Volume, error) {
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
func (s *ext4Step) checkLeftovers(ctx context.Context, v *ext4edit.Volume) (adds []disk.File, stale []string, err error) {
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

func (s *ext4Step) update(ctx context.Context, r run, v *ext4edit.Volume, changes []edit.Change) (edit.Stats, error) {
	st, err := v.Update(ctx, changes, edit.Options{Time: r.time, Chunk: r.opts.Chunk, Progress: placeEvents(r.events(0, 0))})
	r.res.BytesWritten += st.Written
	if err != nil {
		return st, fmt.Errorf("updating the data partition of %s: %w", r.f.Name(), err)
	}
	return st, nil
}

// verify checks what the update wrote against the sources' digests and
// reads it back with the page cache bypassed.
func (s *ext4Step) verify(ctx context.Context, r run, want map[string]string) error {
	if r.opts.NoVerify {
		return nil
	}
	if r.opts.BeforeVerify != nil {
		r.opts.BeforeVerify()
	}
	open := func(src io.ReaderAt) (opener, error) { return ext4edit.Open(readOnly{src}, s.off) }
	if err := r.res.verified(verifyWritten(ctx, r.f, want, open, r.events(0, 0), r.opts.OpenDirect)); err != nil {
		return fmt.Errorf("reading back the data partition of %s: %w", r.f.Name(), err)
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

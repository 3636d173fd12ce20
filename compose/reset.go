package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/imagefile"
)

// PersistReset is a persistence partition ApplyOptions.ResetPersistence
// empties, as shown for confirmation.
type PersistReset struct {
	Target string `json:"target"`
	Entry  string `json:"entry"`
	Label  string `json:"label"`
	Size   int64  `json:"size"`
	Used   int64  `json:"used"` // bytes in use now (-1: unreadable), all of which goes
}

// ErrNoPersistence is matched when --reset-persistence names an entry
// without a persistence partition on the target.
var ErrNoPersistence = errors.New("no such persistence partition")

// resetsOn finds on the kit in f the persistence partition of each of
// names.
func resetsOn(f *os.File, names []string) ([]converge.TargetPersistence, error) {
	t, err := readTarget(f)
	if err != nil {
		return nil, err
	}
	var out []converge.TargetPersistence
	for _, n := range names {
		i := slices.IndexFunc(t.Persistence, func(p converge.TargetPersistence) bool { return p.Entry == n })
		if !t.Kit || i < 0 {
			return nil, fmt.Errorf("%s: %w of %s to reset (plan --image/--device lists what it holds)", f.Name(), ErrNoPersistence, n)
		}
		out = append(out, t.Persistence[i])
	}
	return out, nil
}

// confirmResets reads, before anything is fetched or written, the
// persistence partitions ResetPersistence names on the kit(s) apply
// converges, and asks ConfirmReset to let them go.
func confirmResets(opts ApplyOptions, h *imagefile.Held, converging bool) error {
	if len(opts.ResetPersistence) == 0 {
		return nil
	}
	switch {
	case opts.Recreate:
		return errors.New("--reset-persistence empties a persistence partition of a kit changed in place: apply it without --recreate")
	case opts.Image != "" && len(opts.Devices) > 0, opts.Image == "" && !converging:
		return errors.New("--reset-persistence needs one image or devices that hold kits, changed in place")
	case opts.ConfirmReset == nil:
		return errors.New("--reset-persistence needs a confirmation")
	}
	var all []PersistReset
	add := func(f *os.File, name string) error {
		ps, err := resetsOn(f, opts.ResetPersistence)
		for _, p := range ps {
			all = append(all, PersistReset{Target: name, Entry: p.Entry, Label: p.Label, Size: p.Size, Used: p.Used})
		}
		return err
	}
	if opts.Image != "" {
		if h.File() == nil {
			return fmt.Errorf("%s: %w of %s to reset: it is a new image", opts.Image, ErrNoPersistence, opts.ResetPersistence[0])
		}
		if err := add(h.File(), opts.Image); err != nil {
			return err
		}
	}
	for _, d := range opts.Devices {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = add(f, d)
		f.Close()
		if err != nil {
			return err
		}
	}
	return opts.ConfirmReset(all)
}

// reset empties the persistence partitions of names on the kit in f, as
// the apply just left it (read again: the partitions never move), each
// a fresh ext4 volume with its label, UUID and the files p gives it.
func (p *Plan) reset(ctx context.Context, f *os.File, names []string) error {
	ps, err := resetsOn(f, names)
	if err != nil {
		return err
	}
	for _, t := range ps {
		dp := disk.Persist{Entry: t.Entry, Name: t.Name, Label: t.Label, Size: t.Size, Offset: t.Offset}
		for _, sp := range p.spec.Persist {
			if sp.Entry == t.Entry {
				dp.Files, dp.Dirs = sp.Files, sp.Dirs
			}
		}
		if err := disk.Reformat(ctx, f, dp, t.UUID, p.spec.Time); err != nil {
			return fmt.Errorf("%s: resetting: %w", f.Name(), err)
		}
	}
	return nil
}

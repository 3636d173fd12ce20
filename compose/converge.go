package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/fatedit"
)

// converge changes the kit at p.Image into the one p plans, in place: only
// the files in the diff are written, in fatedit's crash-safe order, and the
// state record swaps with the menu. It refuses (RecreateError) what it
// cannot change in place.
func converge(ctx context.Context, p *Plan, t *Target, opts BuildOptions) (*Result, error) {
	d, err := MakeDiff(p, t)
	if err != nil {
		return nil, err
	}
	if len(d.Recreate) > 0 {
		return nil, &RecreateError{Target: t.Path, Reasons: d.Recreate}
	}
	res := &Result{Image: t.Path, Incremental: true, Changes: d.Changes}
	if fi, err := os.Stat(t.Path); err == nil {
		res.Size = fi.Size()
	}
	if d.NoChanges {
		return res, nil
	}
	esp := p.lay.Partition(disk.FSFAT32)
	flags := os.O_RDWR
	if opts.exclusive {
		flags |= os.O_EXCL // a block device: refused while mounted or in use
	}
	f, err := os.OpenFile(t.Path, flags, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var dev fatedit.Device = f
	if opts.wrap != nil {
		dev = opts.wrap(f)
	}
	v, err := fatedit.Open(dev, partOffset(t, espIndex(p.desired)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.Path, err)
	}
	changes, want := espChanges(d, esp)
	st, err := v.Update(ctx, changes, fatedit.Options{Time: p.lay.Time, Chunk: opts.chunk, Progress: placeEvents(imageEvents(opts.Progress))})
	res.BytesWritten = st.Written
	if err != nil {
		return res, fmt.Errorf("updating %s: %w", t.Path, err)
	}
	for path, sum := range st.SHA256 {
		if w := want[path]; w != "" && w != sum {
			return res, fmt.Errorf("%s: the source changed while it was written (sha256 %s, want %s); run apply again", path, sum, w)
		}
	}
	if !opts.NoVerify {
		if err := verifyWritten(ctx, f, partOffset(t, espIndex(p.desired)), st.SHA256, imageEvents(opts.Progress)); err != nil {
			return res, err
		}
	}
	return res, nil
}

func partOffset(t *Target, index int) int64 {
	for _, p := range t.Partitions {
		if p.Index == index {
			return p.Offset
		}
	}
	return -1
}

// espChanges turns the diff into file writes and removals on the ESP, the
// state record last among equals (Update commits them together anyway). It
// returns the expected SHA-256 of each written file where known.
func espChanges(d *Diff, esp *disk.Partition) ([]fatedit.Change, map[string]string) {
	files := map[string]disk.File{}
	for _, f := range esp.Files {
		files[f.Path] = f
	}
	var out []fatedit.Change
	want := map[string]string{}
	add := func(f disk.File) {
		size := f.Size
		if f.Source == "" {
			size = int64(len(f.Data))
			want[f.Path] = sha256Hex(f.Data)
		} else if f.SHA256 != "" {
			want[f.Path] = f.SHA256
		}
		out = append(out, fatedit.Change{Path: f.Path, Size: size, Open: func() (io.ReadCloser, error) {
			if f.Source != "" {
				return os.Open(f.Source)
			}
			return io.NopCloser(bytes.NewReader(f.Data)), nil
		}})
	}
	for _, c := range d.Changes {
		if c.Op == "-" {
			out = append(out, fatedit.Change{Path: c.Path, Remove: true})
		} else if f, ok := files[c.Path]; ok {
			add(f)
		}
	}
	add(files[StatePath])
	return out, want
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
// volume, after dropping the image's cached pages, and compares digests.
func verifyWritten(ctx context.Context, f *os.File, off int64, sums map[string]string, progress func(disk.Event)) error {
	if err := f.Sync(); err != nil {
		return err
	}
	dropCache(f)
	v, err := fatedit.Open(readOnly{f}, off)
	if err != nil {
		return fmt.Errorf("verifying %s: %w", f.Name(), err)
	}
	var total, done int64
	for path := range sums {
		if r, err := v.Open(path); err == nil {
			total += r.Size()
		}
	}
	for path, want := range sums {
		if err := ctx.Err(); err != nil {
			return err
		}
		r, err := v.Open(path)
		if err != nil {
			return fmt.Errorf("verifying %s: %w", path, err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return fmt.Errorf("verifying %s: %w", path, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return fmt.Errorf("verifying %s: read back sha256 %s, wrote %s", path, got, want)
		}
		done += r.Size()
		if progress != nil {
			progress(disk.Event{Kind: disk.EventVerify, Path: path, AllDone: done, AllTotal: total})
		}
	}
	return nil
}

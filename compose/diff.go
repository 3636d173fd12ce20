package compose

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/disk"
)

// ErrRecreate is returned (wrapped, with the reasons) by Apply when the
// target cannot be converged in place; RecreateError carries the reasons.
var ErrRecreate = errors.New("the target must be rewritten in full (--recreate)")

// RecreateError says why a target cannot be converged in place.
type RecreateError struct {
	Target  string
	Reasons []string
}

func (e *RecreateError) Error() string {
	return fmt.Sprintf("%s cannot be changed in place: %s; rewrite it in full with --recreate (erases it)", e.Target, strings.Join(e.Reasons, "; "))
}

// Unwrap makes the error match ErrRecreate and ErrUnsafeTarget: nothing
// was written.
func (e *RecreateError) Unwrap() []error { return []error{ErrRecreate, ErrUnsafeTarget} }

// Diff is what converging a target to a plan changes. It is data: `compose
// plan --image/--device` prints it and Apply executes exactly it.
type Diff struct {
	Target  string   `json:"target"`
	Kit     bool     `json:"kit"`
	Changes []Change `json:"changes"`
	// NoChanges is true when the target already holds the planned kit.
	NoChanges bool `json:"no_changes"`
	// Recreate lists why the change cannot be made in place; empty when it
	// can.
	Recreate []string `json:"recreate,omitempty"`
	// Write is the bytes of file content an in-place apply writes.
	Write int64 `json:"write"`
}

// Change is one difference: Op is "+" (add), "~" (replace) or "-"
// (remove); Kind is "iso", "menu", "bootloader" or "data".
type Change struct {
	Op        string `json:"op"`
	Kind      string `json:"kind"`
	Name      string `json:"name,omitempty"` // the ISO's name
	Path      string `json:"path"`
	Partition int    `json:"partition"`
	Size      int64  `json:"size,omitempty"`
}

// MakeDiff compares the plan with what the target holds.
func MakeDiff(p *Plan, t *Target) (*Diff, error) {
	d := &Diff{Target: t.Path, Kit: t.Kit, Changes: []Change{}}
	if p.desired == nil {
		return nil, ErrNotReady
	}
	if !t.Kit {
		d.Recreate = append(d.Recreate, "it is not a compose kit: "+strings.Join(t.Problems, "; "))
		return d, nil
	}
	if t.Drift {
		d.Recreate = append(d.Recreate, "files on it were changed outside compose: "+strings.Join(t.Problems, "; "))
	}
	want, have := p.desired, t.State
	d.layoutReasons(want, have)
	d.isoChanges(want, have)
	d.fileChanges(want, have)
	if want.BIOSBoot != have.BIOSBoot && want.BIOSBoot != "" && have.BIOSBoot != "" {
		d.Changes = append(d.Changes, Change{Op: "~", Kind: "bootloader", Path: "BIOS boot partition"})
		d.Recreate = append(d.Recreate, "the BIOS boot code changed, and it is rewritten only in full")
	}
	esp := espIndex(want)
	var data []string
	for _, c := range d.Changes {
		if c.Op != "-" {
			d.Write += c.Size
		}
		if c.Partition != esp && c.Partition != 0 {
			data = append(data, c.Path)
		}
	}
	if len(data) > 0 {
		d.Recreate = append(d.Recreate, "the change touches the ext4 data partition ("+strings.Join(data, ", ")+"), which is changed only in full")
	}
	if need := d.Write + 1<<20; len(d.Changes) > 0 && need > t.ESPFree {
		d.Recreate = append(d.Recreate, fmt.Sprintf("the ESP has %d bytes free but the new files need about %d beside the old ones (the old go only once the new are complete)", t.ESPFree, need))
	}
	d.NoChanges = len(d.Changes) == 0
	return d, nil
}

func espIndex(st *KitState) int {
	for _, p := range st.Partitions {
		if p.FS == disk.FSFAT32 {
			return p.Index
		}
	}
	return 0
}

func (d *Diff) layoutReasons(want, have *KitState) {
	fs := func(st *KitState) []string {
		var out []string
		for _, p := range st.Partitions {
			out = append(out, p.FS)
		}
		return out
	}
	w, h := fs(want), fs(have)
	switch {
	case want.Storage != have.Storage:
		d.Recreate = append(d.Recreate, fmt.Sprintf("the storage mode changed from %s to %s", have.Storage, want.Storage))
	case slices.Contains(w, disk.FSRaw) && !slices.Contains(h, disk.FSRaw):
		d.Recreate = append(d.Recreate, "firmware bios needs a BIOS boot partition, which the target lacks")
	case slices.Contains(w, disk.FSExt4) != slices.Contains(h, disk.FSExt4):
		d.Recreate = append(d.Recreate, "the kit now needs the ext4 data partition added or removed")
	case !slices.Equal(w, h):
		d.Recreate = append(d.Recreate, fmt.Sprintf("the partitions change from %v to %v", h, w))
	}
}

func (d *Diff) isoChanges(want, have *KitState) {
	old := map[string]StateISO{}
	for _, i := range have.ISOs {
		old[i.Name] = i
	}
	for _, i := range want.ISOs {
		o, ok := old[i.Name]
		delete(old, i.Name)
		c := Change{Kind: "iso", Name: i.Name, Path: i.Path, Partition: i.Partition, Size: i.Size}
		switch {
		case !ok:
			c.Op = "+"
		case o.Path != i.Path || o.Partition != i.Partition:
			d.Changes = append(d.Changes, Change{Op: "-", Kind: "iso", Name: o.Name, Path: o.Path, Partition: o.Partition, Size: o.Size})
			c.Op = "+"
		case o.Size != i.Size || o.Algorithm != i.Algorithm || o.Digest != i.Digest:
			c.Op = "~"
		default:
			continue
		}
		d.Changes = append(d.Changes, c)
	}
	for _, i := range have.ISOs {
		if _, gone := old[i.Name]; gone {
			d.Changes = append(d.Changes, Change{Op: "-", Kind: "iso", Name: i.Name, Path: i.Path, Partition: i.Partition, Size: i.Size})
		}
	}
}

func (d *Diff) fileChanges(want, have *KitState) {
	key := func(f StateFile) string { return fmt.Sprintf("%d:%s", f.Partition, strings.ToLower(f.Path)) }
	old := map[string]StateFile{}
	for _, f := range have.Files {
		old[key(f)] = f
	}
	for _, f := range want.Files {
		o, ok := old[key(f)]
		delete(old, key(f))
		c := Change{Op: "+", Kind: fileKind(f, want), Path: f.Path, Partition: f.Partition, Size: f.Size}
		if ok {
			if o.SHA256 == f.SHA256 && o.Size == f.Size {
				continue
			}
			c.Op = "~"
		}
		d.Changes = append(d.Changes, c)
	}
	for _, f := range have.Files {
		if _, gone := old[key(f)]; gone {
			d.Changes = append(d.Changes, Change{Op: "-", Kind: fileKind(f, have), Path: f.Path, Partition: f.Partition, Size: f.Size})
		}
	}
}

func fileKind(f StateFile, st *KitState) string {
	switch {
	case f.Partition != espIndex(st):
		return "data"
	case strings.EqualFold(f.Path, bootloader.ConfigPath):
		return "menu"
	}
	return "bootloader"
}

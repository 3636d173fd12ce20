package converge

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/device"
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
	return fmt.Sprintf("%s cannot be changed in place: %s; rewrite it in full with --recreate (erases it)", e.Target, joinSome(e.Reasons))
}

// Unwrap makes the error match ErrRecreate and ErrUnsafeTarget: nothing
// was written.
func (e *RecreateError) Unwrap() []error { return []error{ErrRecreate, device.ErrUnsafeTarget} }

// Diff is what converging a target to a plan changes. It is data: `compose
// plan --image/--device` prints it and Run executes exactly it.
type Diff struct {
	Target  string   `json:"target"`
	Kit     bool     `json:"kit"`
	Changes []Change `json:"changes"`
	// NoChanges is true when the target already holds the planned kit.
	NoChanges bool `json:"no_changes"`
	// ISOCheck is how the ISOs already on a kit were checked:
	// ISOCheckSampled (size, first and last 64 KiB); Verify reads them
	// whole.
	ISOCheck string `json:"iso_check,omitempty"`
	// Recreate lists why the change cannot be made in place; empty when it
	// can.
	Recreate []string `json:"recreate,omitempty"`
	// Write is the bytes of file content an in-place apply writes.
	Write int64 `json:"content_bytes"`
	// Steps is how many commits the in-place apply makes: 1, or 2 when
	// the ESP cannot hold the new ISOs beside the ones they replace (see
	// Interim). 0 when there is nothing to apply or it is refused.
	Steps int `json:"steps"`
	// Interim is the first of two steps, nil for a one-step apply.
	Interim *Interim `json:"interim,omitempty"`
	// Resume is true when the target holds the interim kit of an
	// interrupted two-step apply (KitState.Interim).
	Resume bool `json:"resume,omitempty"`
	// Replay is true when the data partition's journal holds a committed
	// transaction of an interrupted apply; apply replays it first.
	Replay bool `json:"replay,omitempty"`
}

// Interim is the first step of a two-step apply. It commits a menu and a
// state record without the replaced and removed ISOs, and deletes their
// files, boot file changes included; the second step writes the new ISOs
// and commits the final menu. Each commit is one atomic write (see
// compose/internal/fatedit), so an interruption leaves the old kit, the
// interim one or the new one, each menu naming only complete ISOs; apply
// again finishes the job.
type Interim struct {
	// Removed names the ISOs whose files and menu entries the first step
	// deletes: the replaced ones and the removed ones.
	Removed []string `json:"removed"`
	// Missing names the ISOs without a menu entry between the steps: the
	// replaced ones and the new ones.
	Missing []string `json:"missing"`
	// Frees is the bytes of ISO files the first step deletes (whole
	// clusters), Free about what the ESP has free after it, and Adds what
	// the second step writes into that room.
	Frees int64 `json:"frees"`
	Free  int64 `json:"free"`
	Adds  int64 `json:"adds"`
}

// Change is one difference: Op is "+" (add), "~" (replace) or "-"
// (remove); Kind is "iso", "menu", "bootloader", "data" or "leftover" (a
// file of an interrupted apply, see TargetData.Leftovers).
type Change struct {
	Op        string `json:"op"`
	Kind      string `json:"kind"`
	Name      string `json:"name,omitempty"` // the ISO's name
	Path      string `json:"path"`
	Partition int    `json:"partition"`
	Size      int64  `json:"size,omitempty"`
	// OldPath is a replaced ISO's path when the new one has another: on
	// ext4 a replacement never reuses its predecessor's path.
	OldPath string `json:"old_path,omitempty"`
	// Leftover is true when an interrupted apply left a file at Path: it
	// is kept if its full digest is the pinned one, else rewritten.
	Leftover bool `json:"leftover,omitempty"`
}

// MakeDiff compares the record of the kit wanted with what the target
// holds.
func MakeDiff(want *KitState, t *Target) *Diff {
	d := &Diff{Target: t.Path, Kit: t.Kit, Changes: []Change{}}
	if !t.Kit {
		d.Recreate = append(d.Recreate, "it is not a compose kit: "+joinSome(t.Problems))
		return d
	}
	d.ISOCheck = ISOCheckSampled
	if t.Drift {
		d.Recreate = append(d.Recreate, "files on it were changed outside compose: "+joinSome(t.Problems))
	}
	have := t.State
	d.Resume = have.Interim
	d.layoutReasons(want, have)
	d.persistChanges(want, t)
	d.isoChanges(want, have)
	d.fileChanges(want, have)
	if want.BIOSBoot != have.BIOSBoot && want.BIOSBoot != "" && have.BIOSBoot != "" {
		d.Changes = append(d.Changes, Change{Op: "~", Kind: "bootloader", Path: "BIOS boot partition"})
		d.Recreate = append(d.Recreate, "the BIOS boot code changed, and it is rewritten only in full")
	}
	esp := want.ESPIndex()
	d.dataChanges(t)
	for _, c := range d.Changes {
		if c.Op != "-" {
			d.Write += c.Size
		}
	}
	if slices.ContainsFunc(d.Changes, changesRecord) {
		d.room(t, esp)
	}
	if len(d.Recreate) > 0 {
		d.Steps, d.Interim = 0, nil
	}
	d.NoChanges = len(d.Changes) == 0 && !d.Replay
	return d
}

// changesRecord: every change but a leftover's removal changes the state
// record, so the ESP gets a commit.
func changesRecord(c Change) bool { return c.Kind != "leftover" }

// roomSlack is kept free beyond the files: new directory clusters and the
// state record.
const roomSlack = 1 << 20

// room decides how the changes fit the ESP: in one step when the new
// files fit beside the old ones (which go only once the new are
// complete), else in two when deleting the replaced and removed ISOs
// first makes room (Interim), else not at all.
func (d *Diff) room(t *Target, esp int) {
	cluster := max(t.ESPCluster, 512)
	round := func(n int64) int64 { return (n + cluster - 1) / cluster * cluster }
	old := map[string]int64{}
	for _, i := range t.State.ISOs {
		old[i.Name] = i.Size
	}
	in := &Interim{}
	var rest int64
	for _, c := range d.Changes {
		switch {
		case c.Partition != esp && c.Partition != 0:
		case c.Kind == "iso" && c.Op == "-":
			in.Frees += round(c.Size)
			in.Removed = append(in.Removed, c.Name)
		case c.Kind == "iso":
			if c.Op == "~" {
				in.Frees += round(old[c.Name])
				in.Removed = append(in.Removed, c.Name)
			}
			in.Adds += round(c.Size)
			in.Missing = append(in.Missing, c.Name)
		case c.Op != "-":
			rest += round(c.Size)
		}
	}
	if in.Adds+rest+roomSlack <= t.ESPFree {
		d.Steps = 1
		return
	}
	// The first step writes the boot files and menu beside the old ones.
	in.Free = t.ESPFree + in.Frees - rest - roomSlack
	if in.Frees == 0 || rest+roomSlack > t.ESPFree || in.Adds+roomSlack > in.Free {
		d.Recreate = append(d.Recreate, fmt.Sprintf("the ESP has %d bytes free (%d more once the replaced and removed ISOs are deleted first), but the new files need about %d",
			t.ESPFree, in.Frees, in.Adds+rest+2*roomSlack))
		return
	}
	d.Steps, d.Interim = 2, in
}

// ESPIndex is the record's ESP partition, 0 when it has none.
func (st *KitState) ESPIndex() int {
	for _, p := range st.Partitions {
		if p.FS == disk.FSFAT32 && p.Persistence == nil {
			return p.Index
		}
	}
	return 0
}

func (d *Diff) layoutReasons(want, have *KitState) {
	fs := func(st *KitState) []string {
		var out []string
		for _, p := range st.Partitions {
			if p.Persistence == nil { // persistChanges' to compare
				out = append(out, p.FS)
			}
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
		case o.Partition != i.Partition:
			d.Changes = append(d.Changes, Change{Op: "-", Kind: "iso", Name: o.Name, Path: o.Path, Partition: o.Partition, Size: o.Size})
			c.Op = "+"
		case o.Path != i.Path:
			c.Op, c.OldPath = "~", o.Path
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
	case f.Partition != st.ESPIndex():
		return "data"
	case strings.EqualFold(f.Path, bootloader.ConfigPath):
		return "menu"
	}
	return "bootloader"
}

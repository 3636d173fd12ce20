package compose

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/bytesize"
)

// PersistencePlan is one entry's persistence partition and what apply
// does with it.
type PersistencePlan struct {
	Entry  string   `json:"entry"`
	Label  string   `json:"label"`          // ext4 volume label its initramfs looks for
	Name   string   `json:"partition_name"` // GPT partition name
	Offset int64    `json:"offset"`
	Size   int64    `json:"size"`
	Args   []string `json:"args,omitempty"` // kernel arguments its menu line gets
	// Action is "create" (a fresh ext4 volume), "keep" (left as it is,
	// byte for byte) or "discard" (removed or resized: its data goes,
	// which apply does only for a name in DiscardPersistence).
	Action string `json:"action"`
	// Used is the bytes in use on a discarded one (its ext4 superblock:
	// blocks in use, metadata and journal included), -1 when unreadable.
	Used int64 `json:"used,omitempty"`
	// Reason says why a discarded one goes.
	Reason string `json:"reason,omitempty"`
}

// Persistence actions.
const (
	PersistCreate  = "create"
	PersistKeep    = "keep"
	PersistDiscard = "discard"
)

// ErrPersistenceData is matched when apply would discard a persistence
// partition's data that no --discard-persistence names.
var ErrPersistenceData = errors.New("a persistence partition's data would be discarded")

// assignPersistence gives every entry with `persistence:` its storage
// (bootloader.AssignPersistence) and the disk its partitions, at the end
// of the disk in manifest order. An entry not yet inspected gets the
// label its name gives (the plan is not Ready, nothing is built).
func (p *Plan) assignPersistence(m *config.Manifest) error {
	var reqs []bootloader.PersistRequest
	for i, iso := range m.ISOs {
		if iso.Persistence > 0 && p.Entries[i].Boot != nil {
			reqs = append(reqs, bootloader.PersistRequest{ID: iso.Name, Boot: *p.Entries[i].Boot})
		}
	}
	got, err := bootloader.AssignPersistence(reqs)
	if err != nil {
		var pe *bootloader.PersistenceError
		if !errors.As(err, &pe) {
			return err
		}
		i := slices.IndexFunc(m.ISOs, func(iso config.ISO) bool { return iso.Name == pe.ID })
		at := strings.TrimSpace(m.Diag(fmt.Sprintf("isos[%d].persistence", i), "").String())
		return fmt.Errorf("%s %w", at, err)
	}
	p.persist = map[string]*bootloader.Persistence{}
	for _, iso := range m.ISOs {
		if iso.Persistence == 0 {
			continue
		}
		ps, ok := got[iso.Name]
		if !ok {
			label := bootloader.PersistenceLabel(iso.Name)
			ps = bootloader.Persistence{Label: label, Name: label}
		}
		p.persist[iso.Name] = &ps
		dp := disk.Persist{Entry: iso.Name, Name: ps.Name, Label: ps.Label, Size: alignMiB(iso.Persistence), Dirs: ps.Dirs}
		for _, f := range ps.Files {
			dp.Files = append(dp.Files, disk.File{Path: f.Path, Data: f.Data})
		}
		p.spec.Persist = append(p.spec.Persist, dp)
	}
	return nil
}

func alignMiB(n int64) int64 { return (n + 1<<20 - 1) / (1 << 20) * (1 << 20) }

// describePersistence lists the persistence partitions of lay, each to be
// created.
func (p *Plan) describePersistence(lay disk.Layout) {
	for _, part := range lay.Partitions {
		if part.Persistence == "" {
			continue
		}
		pp := PersistencePlan{Entry: part.Persistence, Label: part.Label, Name: part.Name, Offset: part.Offset, Size: part.Size, Action: PersistCreate}
		if ps := p.persist[part.Persistence]; ps != nil {
			pp.Args = ps.Args
		}
		p.Persistence = append(p.Persistence, pp)
	}
}

// statePersistence is the record of persistence partition part: the
// target's for one it keeps (same label and size), so that converging
// leaves it and its GPT entry as they are.
func (p *Plan) statePersistence(part disk.Partition) converge.StatePartition {
	if h, ok := p.have[part.Persistence]; ok && h.Label == part.Label && h.Size == part.Size {
		return converge.StatePartition{Index: part.Index, FS: part.FS, Persistence: &h.StatePersistence}
	}
	return converge.StatePartition{Index: part.Index, FS: part.FS, Persistence: &converge.StatePersistence{Entry: part.Persistence,
		Label: part.Label, Name: part.Name, Offset: part.Offset, Size: part.Size, GUID: strings.ToUpper(part.GUID)}}
}

// haveOf notes the persistence partitions of a target kit.
func (p *Plan) haveOf(t *converge.Target) {
	p.have = map[string]converge.TargetPersistence{}
	if t == nil || !t.Kit {
		return
	}
	p.haveList = t.Persistence
	for _, h := range t.Persistence {
		p.have[h.Entry] = h
	}
}

// persistActions says, once the diff is known, which persistence
// partitions the target keeps, which are made and which would go.
func (p *Plan) persistActions() {
	if p.desired == nil {
		return
	}
	wanted := map[string]bool{}
	for i := range p.Persistence {
		pp := &p.Persistence[i]
		wanted[pp.Entry] = true
		h, ok := p.have[pp.Entry]
		if ok && h.Label == pp.Label && h.Size == pp.Size {
			pp.Action, pp.Offset, pp.Name = PersistKeep, h.Offset, h.Name
		} else if ok {
			p.Persistence = append(p.Persistence, discarded(h, "resized or relabelled"))
		}
	}
	for _, h := range p.haveList {
		if !wanted[h.Entry] {
			p.Persistence = append(p.Persistence, discarded(h, "no longer wanted"))
		}
	}
}

func discarded(h converge.TargetPersistence, why string) PersistencePlan {
	return PersistencePlan{Entry: h.Entry, Label: h.Label, Name: h.Name, Offset: h.Offset, Size: h.Size,
		Action: PersistDiscard, Used: h.Used, Reason: why}
}

// keepOnRecreate reads, for a rewrite in full, the persistence partitions
// of the kit at path (nil target: none) and keeps every one the manifest
// still wants with its label and size: at its offset, with its GUID, its
// bytes copied from the old image by Build. The image keeps its size, so
// that they stay where they are; everything else is laid out in front.
func (p *Plan) keepOnRecreate(t *converge.Target, size int64) {
	p.haveOf(t)
	keptAny := false
	for i := range p.spec.Persist {
		dp := &p.spec.Persist[i]
		h, ok := p.have[dp.Entry]
		if !ok || h.Label != dp.Label || h.Size != dp.Size {
			continue
		}
		dp.Offset, dp.GUID, dp.Name, dp.Keep = h.Offset, h.GUID, h.Name, true
		keptAny = true
	}
	if keptAny {
		p.keepSize = size
	}
}

// recreateTarget reads the kit a rewrite in full replaces, for its
// persistence partitions, and its size; nil when there is none.
func recreateTarget(path string, o PlanOptions) (*converge.Target, int64, error) {
	var f *os.File
	switch {
	case !o.Recreate || path == "":
		return nil, 0, nil
	case o.device != nil:
		f = o.device
	case o.held != nil && o.held.File() == nil:
		return nil, 0, nil
	case o.held != nil:
		f = o.held.File()
	default:
		var err error
		if f, err = os.Open(path); err != nil {
			return nil, 0, nil
		}
		defer f.Close()
	}
	t, err := readTarget(f)
	if err != nil || !t.Kit {
		return nil, 0, nil //nolint:nilerr // not a kit: nothing on it compose keeps
	}
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, err
	}
	return t, size, nil
}

// checkDiscard refuses a plan that discards a persistence partition's
// data no name in allowed covers.
func (p *Plan) checkDiscard(allowed []string) error {
	for _, pp := range p.Persistence {
		if pp.Action == PersistDiscard && !slices.Contains(allowed, pp.Entry) {
			return fmt.Errorf("%s: %w: the persistence partition of %s (%s, %s in use) is %s; name it with --discard-persistence %s to let its data go",
				p.Image, ErrPersistenceData, pp.Entry, bytesize.Format(pp.Size), usedBytes(pp.Used), pp.Reason, pp.Entry)
		}
	}
	return nil
}

func usedBytes(n int64) string {
	if n < 0 {
		return "an unknown amount"
	}
	return bytesize.Format(n)
}

// keptFrom gives Build's kept persistence partitions the old image to
// copy their bytes from; a kept one with nowhere to copy from is refused.
func keptFrom(spec disk.Spec, old *os.File) (disk.Spec, error) {
	spec.Persist = slices.Clone(spec.Persist)
	for i, ps := range spec.Persist {
		if !ps.Keep || ps.From != nil {
			continue
		}
		if old == nil {
			return spec, fmt.Errorf("%w: the persistence partition of %s is kept, but the image it is on is not open", ErrPersistenceData, ps.Entry)
		}
		spec.Persist[i].From = old
	}
	return spec, nil
}

// keepsNoPersistence refuses a rewrite in full of devices holding a
// persistence partition that no name in allowed lets go: the device
// writer writes the whole layout (every partition's first MiB among it)
// and keeps nothing of what was there.
func keepsNoPersistence(paths, allowed []string) error {
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			continue // checkDevices says why
		}
		t, err := readTarget(f)
		f.Close()
		if err != nil || !t.Kit {
			continue
		}
		for _, h := range t.Persistence {
			if !slices.Contains(allowed, h.Entry) {
				return fmt.Errorf("%s: %w: --recreate on a device does not keep persistence partitions; the one of %s (%s, %s in use) would go: apply without --recreate, or name it with --discard-persistence %s",
					path, ErrPersistenceData, h.Entry, bytesize.Format(h.Size), usedBytes(h.Used), h.Entry)
			}
		}
	}
	return nil
}

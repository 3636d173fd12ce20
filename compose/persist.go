package compose

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
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
		return converge.StatePartition{Index: h.Index, FS: part.FS, Persistence: &h.StatePersistence}
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

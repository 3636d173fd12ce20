package converge

import (
	"fmt"
	"strings"
)

// noJournal is why a data partition from an older compose is not changed
// in place: without a journal, no change to it survives an interruption.
const noJournal = "the data partition was made by an older compose without a journal; rewrite once with --recreate"

// dataChanges decides whether the changes on the ext4 data partition can
// be made in place (it needs a journal, and room for the new files beside
// the old ones, which go only after the menu swap), and adds the leftovers
// of an interrupted apply: kept when one is exactly a file to write,
// removed otherwise.
func (d *Diff) dataChanges(t *Target) {
	td := t.Data
	if td == nil {
		return
	}
	var touched []string
	wanted := map[string]int{}
	var need int64
	for i, c := range d.Changes {
		if c.Partition != td.Index {
			continue
		}
		touched = append(touched, c.Path)
		if c.Op == "~" && c.Kind == "iso" && c.OldPath == "" {
			d.Recreate = append(d.Recreate, fmt.Sprintf("%s: the new ISO's digest starts as the old one's, so it would reuse its path on the data partition", c.Name))
		}
		if c.Op != "-" {
			wanted[c.Path] = i
			need += ext4Room(c.Size)
		}
	}
	if !td.Journal {
		if len(touched) > 0 {
			d.Recreate = append(d.Recreate, noJournal+" (it would change "+strings.Join(touched, ", ")+")")
		}
		return
	}
	d.Replay = td.Recovery
	need -= d.leftovers(td, wanted)
	if need > 0 && need+roomSlack > td.Free {
		d.Recreate = append(d.Recreate, fmt.Sprintf("the data partition has %d bytes free, but the new files need about %d beside the ones they replace", td.Free, need+roomSlack))
	}
}

// leftovers marks the wanted files an interrupted apply already wrote and
// lists the other leftovers for removal; it returns the room the kept ones
// save.
func (d *Diff) leftovers(td *TargetData, wanted map[string]int) int64 {
	var kept int64
	for _, l := range td.Leftovers {
		if i, ok := wanted[l.Path]; ok && d.Changes[i].Size == l.Size {
			d.Changes[i].Leftover = true
			kept += ext4Room(l.Size)
			continue
		}
		d.Changes = append(d.Changes, Change{Op: "-", Kind: "leftover", Path: l.Path, Partition: td.Index, Size: l.Size})
	}
	return kept
}

// ext4Room is about the room a file of size bytes takes on ext4: 4 KiB
// blocks, and an extent-tree block per GiB.
func ext4Room(size int64) int64 {
	const block = 4 << 10
	return (size+block-1)/block*block + block*(1+size/(1<<30))
}

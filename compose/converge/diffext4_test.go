package converge

import (
	"sort"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/disk"
)

// dataState is a kit with an ESP (1) and a data partition (2) holding isos.
func dataState(isos ...StateISO) *KitState {
	return &KitState{Format: StateFormat, StickID: "s", Storage: "data",
		Partitions: []StatePartition{{Index: 1, FS: disk.FSFAT32}, {Index: 2, FS: disk.FSExt4}}, ISOs: isos}
}

func onData(name, digest string, size int64) StateISO {
	return StateISO{Name: name, Path: "/isos/" + name + "-" + digest[:8] + ".iso", Partition: 2, Size: size, Algorithm: "sha256", Digest: digest}
}

func TestDataDiff(t *testing.T) {
	a1, a2 := onData("a", "11111111aa", 10<<20), onData("a", "22222222aa", 10<<20)
	b := onData("b", "33333333bb", 5<<20)
	tests := []struct {
		name       string
		have, want *KitState
		data       TargetData
		ops        string
		recreate   string
		leftover   bool
		replay     bool
		noChanges  bool
	}{
		{name: "replace in place", have: dataState(a1, b), want: dataState(a2, b), data: TargetData{Journal: true, Free: 64 << 20},
			ops: "~iso:a"},
		{name: "no journal", have: dataState(a1, b), want: dataState(a2, b), data: TargetData{Free: 64 << 20},
			ops: "~iso:a", recreate: noJournal + " (it would change /isos/a-22222222.iso)"},
		{name: "no journal, no data change", have: dataState(a1), want: dataState(a1), data: TargetData{}, noChanges: true},
		{name: "no room beside the old", have: dataState(a1, b), want: dataState(a2, b), data: TargetData{Journal: true, Free: 10 << 20},
			ops: "~iso:a", recreate: "the data partition has 10485760 bytes free"},
		{name: "leftover kept", have: dataState(a1, b), want: dataState(a2, b),
			data: TargetData{Journal: true, Free: 2 << 20, Leftovers: []Leftover{{Path: a2.Path, Size: a2.Size}}},
			ops:  "~iso:a", leftover: true},
		{name: "leftover of another size removed", have: dataState(a1, b), want: dataState(a2, b),
			data: TargetData{Journal: true, Free: 64 << 20, Leftovers: []Leftover{{Path: a2.Path, Size: 1}}},
			ops:  "-leftover:/isos/a-22222222.iso ~iso:a"},
		{name: "leftovers only", have: dataState(a1), want: dataState(a1),
			data: TargetData{Journal: true, Free: 64 << 20, Leftovers: []Leftover{{Path: "/isos/x-12345678.iso", Size: 1}}},
			ops:  "-leftover:/isos/x-12345678.iso"},
		{name: "replay only", have: dataState(a1), want: dataState(a1), data: TargetData{Journal: true, Recovery: true, Free: 64 << 20},
			replay: true},
		{name: "same digest prefix", have: dataState(a1), want: dataState(onData("a", "11111111ff", 10<<20)), data: TargetData{Journal: true, Free: 64 << 20},
			ops: "~iso:a", recreate: "would reuse its path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.data.Index = 2
			tg := &Target{Path: "kit.img", Kit: true, State: tt.have, Data: &tt.data, ESPFree: 64 << 20, ESPCluster: 4096}
			d := MakeDiff(tt.want, tg)
			steps := 0 // the ESP commits when the record changes
			if len(d.Recreate) == 0 && strings.Contains(tt.ops, "iso:") {
				steps = 1
			}
			if d.Steps != steps {
				t.Fatalf("%d steps, want %d", d.Steps, steps)
			}
			if ops(d) != tt.ops || d.NoChanges != tt.noChanges || d.Replay != tt.replay {
				t.Fatalf("ops %q no changes %v replay %v", ops(d), d.NoChanges, d.Replay)
			}
			if got := strings.Join(d.Recreate, "; "); (tt.recreate == "") != (got == "") || !strings.Contains(got, tt.recreate) {
				t.Fatalf("recreate %q, want %q", got, tt.recreate)
			}
			for _, c := range d.Changes {
				if c.Name == "a" && c.Op == "~" && (c.Leftover != tt.leftover || (tt.recreate == "" && c.OldPath != a1.Path)) {
					t.Fatalf("change %+v", c)
				}
			}
		})
	}
}

// ops lists a diff's changes as "+iso:name", sorted.
func ops(d *Diff) string {
	var out []string
	for _, c := range d.Changes {
		n := c.Name
		if n == "" {
			n = c.Path
		}
		out = append(out, c.Op+c.Kind+":"+n)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

package converge

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/compose/internal/ext4fmt"
	"github.com/usbkit/compose/config/bytesize"
)

// TargetPersistence is one persistence partition the record names, as the
// target holds it. compose reads its superblock and GPT entry, never its
// files: they are the user's.
type TargetPersistence struct {
	StatePersistence
	Index int `json:"index"`
	// Used is the bytes in use (the superblock's blocks minus its free
	// blocks: metadata and journal included); -1 when it is unreadable.
	Used int64 `json:"used"`
}

// checkPersistence finds each persistence partition of the record in the
// GPT, where the record says and with its GUID; one moved, resized or
// gone is drift (compose will not guess where the user's data went).
func (t *Target) checkPersistence(r io.ReaderAt) {
	for _, sp := range t.State.Partitions {
		ps := sp.Persistence
		if ps == nil {
			continue
		}
		var got *TargetPartition
		for i := range t.Partitions {
			if t.Partitions[i].Index == sp.Index {
				got = &t.Partitions[i]
			}
		}
		if got == nil || got.Offset != ps.Offset || got.Size != ps.Size || !strings.EqualFold(got.GUID, ps.GUID) {
			t.drift("the persistence partition of %s is not at byte %d (%s, GUID %s) as compose made it", ps.Entry, ps.Offset, bytesize.Format(ps.Size), ps.GUID)
			continue
		}
		t.Persistence = append(t.Persistence, TargetPersistence{StatePersistence: *ps, Index: sp.Index, Used: ext4Used(r, ps.Offset)})
	}
}

// ext4Used is the bytes in use on the ext4 volume at off, -1 when its
// superblock cannot be read.
func ext4Used(r io.ReaderAt, off int64) int64 {
	g, sb, err := ext4fmt.ReadGeom(r, off)
	if err != nil {
		return -1
	}
	le := binary.LittleEndian
	blocks := int64(le.Uint32(sb[0x04:])) | int64(le.Uint32(sb[0x150:]))<<32
	free := int64(le.Uint32(sb[0x0c:])) | int64(le.Uint32(sb[0x158:]))<<32
	if !g.Is64 {
		blocks, free = int64(le.Uint32(sb[0x04:])), int64(le.Uint32(sb[0x0c:]))
	}
	if free > blocks {
		return -1
	}
	return (blocks - free) * g.BlockSize
}

// persistChanges compares the persistence partitions wanted with the
// target's. One the same in both is kept: converging never writes inside
// it nor changes its GPT entry. Anything else changes the partitions,
// which only a rewrite in full does (Recreate): a new one, a removed or
// resized one (whose data goes).
func (d *Diff) persistChanges(want *KitState, t *Target) {
	have := map[string]TargetPersistence{}
	for _, p := range t.Persistence {
		have[p.Entry] = p
	}
	for _, w := range want.Persistence() {
		h, ok := have[w.Entry]
		delete(have, w.Entry)
		switch {
		case !ok:
			d.Recreate = append(d.Recreate, fmt.Sprintf("%s gets persistence, a new partition of %s, which only --recreate adds (it keeps the other persistence partitions where they are, byte for byte)", w.Entry, bytesize.Format(w.Size)))
		case h.StatePersistence != w:
			d.Recreate = append(d.Recreate, fmt.Sprintf("%s's persistence changes from %s labelled %s to %s labelled %s: its partition is made anew and its data (%s in use) goes; apply --recreate --discard-persistence %s",
				w.Entry, bytesize.Format(h.Size), h.Label, bytesize.Format(w.Size), w.Label, usedText(h.Used), w.Entry))
		}
	}
	for _, t := range t.Persistence {
		if _, gone := have[t.Entry]; gone {
			d.Recreate = append(d.Recreate, fmt.Sprintf("%s's persistence partition (%s, %s in use) is no longer wanted: removing it discards its data; apply --recreate --discard-persistence %s",
				t.Entry, bytesize.Format(t.Size), usedText(t.Used), t.Entry))
		}
	}
}

func usedText(n int64) string {
	if n < 0 {
		return "an unknown amount"
	}
	return bytesize.Format(n)
}

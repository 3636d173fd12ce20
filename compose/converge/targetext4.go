package converge

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/ext4edit"
)

// TargetData is the ext4 data partition as ReadTarget found it.
type TargetData struct {
	Index int `json:"index"`
	// Journal is false for a kit from a compose older than in-place ext4
	// changes: its data partition is changed only with --recreate.
	Journal bool `json:"journal"`
	// Recovery is true when the journal holds a committed transaction not
	// yet checkpointed (an apply was interrupted). ReadTarget reads the
	// volume as it is after replay, without writing; Apply replays it.
	Recovery bool  `json:"recovery,omitempty"`
	Free     int64 `json:"free"`
	// Leftovers are files under /isos that the state record does not name:
	// what an interrupted apply wrote before its menu swap, or did not
	// delete yet after it. They are not drift; apply removes them, or keeps
	// one that is exactly a file it would write.
	Leftovers []Leftover `json:"leftovers,omitempty"`
}

// Leftover is one file of an interrupted apply.
type Leftover struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// isoDir is where every ISO lives, on either partition.
const isoDir = "/isos/"

// checkData reads the ext4 data partition the record names, if any, and
// checks its files against the record as checkDrift does the ESP's.
func (t *Target) checkData(r io.ReaderAt) {
	idx := t.State.DataIndex()
	off := t.Offset(idx)
	if idx == 0 {
		return
	}
	t.Data = &TargetData{Index: idx}
	if off < 0 {
		t.drift("its data partition %d is missing", idx)
		return
	}
	v, recovery, err := OpenExt4(r, off)
	switch {
	case errors.Is(err, ext4edit.ErrNoJournal):
		return
	case err != nil:
		t.drift("its data partition cannot be read: %v", err)
		return
	}
	t.Data.Journal, t.Data.Recovery, t.Data.Free = true, recovery, v.Free()
	t.checkDataFiles(v)
}

// OpenExt4 opens the ext4 volume at off read-only; when it needs journal
// replay, the replay goes to an overlay in memory, so the volume reads as
// after replay and the target is not written.
func OpenExt4(r io.ReaderAt, off int64) (*ext4edit.Volume, bool, error) {
	v, err := ext4edit.Open(readOnly{r}, off)
	if err != nil || !v.NeedsRecovery() {
		return v, false, err
	}
	ov := newOverlay(r)
	if v, err = ext4edit.Open(ov, off); err != nil {
		return nil, true, err
	}
	if err := v.Recover(); err != nil {
		return nil, true, fmt.Errorf("replaying its journal: %w", err)
	}
	v, err = ext4edit.Open(ov, off)
	return v, true, err
}

func (t *Target) checkDataFiles(v *ext4edit.Volume) {
	known := map[string]bool{}
	for _, f := range t.State.Files {
		if f.Partition != t.Data.Index {
			continue
		}
		known[f.Path] = true
		switch b, err := readAll(v, f.Path); {
		case err != nil:
			t.drift("%s on the data partition is missing", f.Path)
		case sha256Hex(b) != f.SHA256:
			t.drift("%s on the data partition was changed outside compose", f.Path)
		}
	}
	for _, iso := range t.State.ISOs {
		if iso.Partition != t.Data.Index {
			continue
		}
		known[iso.Path] = true
		if msg := checkISO(v, iso); msg != "" {
			t.drift("%s", msg)
		}
	}
	for _, f := range v.Files() {
		switch {
		case known[f.Path]:
		case isLeftover(f.Path):
			t.Data.Leftovers = append(t.Data.Leftovers, Leftover{Path: f.Path, Size: f.Size})
		default:
			t.drift("%s on the data partition was added outside compose", f.Path)
		}
	}
	sort.Slice(t.Data.Leftovers, func(i, j int) bool { return t.Data.Leftovers[i].Path < t.Data.Leftovers[j].Path })
}

// isLeftover says whether an unrecorded file on the data partition is
// where an interrupted apply writes: directly under /isos.
func isLeftover(path string) bool {
	return strings.HasPrefix(path, isoDir) && !strings.Contains(path[len(isoDir):], "/")
}

func readAll(v opener, path string) ([]byte, error) {
	r, err := v.Open(path)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// DataIndex is the record's ext4 data partition, 0 when it has none.
func (st *KitState) DataIndex() int {
	for _, p := range st.Partitions {
		if p.FS == disk.FSExt4 && p.Persistence == nil {
			return p.Index
		}
	}
	return 0
}

// overlay keeps writes in memory over a read-only target: journal replay
// writes at most the journal's size (4 MiB) of blocks.
type overlay struct {
	r      io.ReaderAt
	blocks map[int64][]byte
}

const overlayBlock = 512

func newOverlay(r io.ReaderAt) *overlay { return &overlay{r: r, blocks: map[int64][]byte{}} }

func (o *overlay) ReadAt(p []byte, off int64) (int, error) {
	n, err := o.r.ReadAt(p, off)
	for b := off / overlayBlock; b*overlayBlock < off+int64(len(p)); b++ {
		if blk, ok := o.blocks[b]; ok {
			copyBlock(p, off, blk, b*overlayBlock)
		}
	}
	return n, err
}

func (o *overlay) WriteAt(p []byte, off int64) (int, error) {
	for b := off / overlayBlock; b*overlayBlock < off+int64(len(p)); b++ {
		blk, ok := o.blocks[b]
		if !ok {
			blk = make([]byte, overlayBlock)
			if _, err := o.ReadAt(blk, b*overlayBlock); err != nil && err != io.EOF {
				return 0, err
			}
			o.blocks[b] = blk
		}
		copyBlock(blk, b*overlayBlock, p, off)
	}
	return len(p), nil
}

// copyBlock copies the overlap of src (at offset so) into dst (at do).
func copyBlock(dst []byte, do int64, src []byte, so int64) {
	lo, hi := max(do, so), min(do+int64(len(dst)), so+int64(len(src)))
	if lo < hi {
		copy(dst[lo-do:hi-do], src[lo-so:hi-so])
	}
}

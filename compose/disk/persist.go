package disk

import (
	"fmt"
	"io"
	"slices"

	"github.com/usbkit/compose/compose/internal/zero"
)

// Persist is one persistence partition: an ext4 volume on which a live
// system keeps its changes. It holds the user's work, so its place is
// chosen once and never changes: the block of persistence partitions sits
// at the end of the disk (right after the data partition, or the ESP, for
// size: auto), where no later change to the ISOs, the ESP or the data
// partition needs its room, and a rebuild in full lays everything else
// out in front of it (Offset).
type Persist struct {
	Entry string   // the menu entry it belongs to, for messages
	Name  string   // GPT partition name
	Label string   // ext4 volume label, at most 16 bytes
	Size  int64    // bytes, a multiple of 1 MiB
	Files []File   // written into the fresh file system
	Dirs  []string // empty directories it gets (dracut's overlayfs upper and work)
	// Offset, when nonzero, is where the partition already is on the
	// target (a rebuild in full keeping the user's data): the layout puts
	// it there and everything else around it. New ones (Offset 0) go
	// right below the lowest kept one, or at the end of the disk.
	Offset int64
	// GUID is the kept partition's GUID; "" derives one from the seed
	// and Label.
	GUID string
	// Keep makes Build write none of its bytes; with From it copies the
	// partition's bytes from From at the same offset instead (an image
	// file rebuilt in full beside the old one).
	Keep bool
	From io.ReaderAt
}

// persistBlock places spec.Persist below end (the end of the disk, before
// the backup GPT): kept ones at their offsets, new ones, in the order
// given, right below the lowest kept one. It returns the partitions in
// disk order and where the block starts.
func persistBlock(spec Spec, end int64) ([]Partition, int64, error) {
	start := end
	for _, ps := range spec.Persist {
		if ps.Offset != 0 {
			start = min(start, ps.Offset)
		}
	}
	var fresh int64
	for _, ps := range spec.Persist {
		if ps.Offset == 0 {
			fresh += ps.Size
		}
	}
	at := start - fresh
	blockStart := at
	var out []Partition
	for _, ps := range spec.Persist {
		off := ps.Offset
		if off == 0 {
			off, at = at, at+ps.Size
		}
		if off%mib != 0 || off+ps.Size > end {
			return nil, 0, fmt.Errorf("persistence partition of %s at byte %d (%d bytes) does not fit below byte %d, MiB-aligned", ps.Entry, off, ps.Size, end)
		}
		out = append(out, Partition{Name: ps.Name, Type: TypeLinuxData, FS: FSExt4, Label: ps.Label, Files: ps.Files,
			Content: ext4Need(ps.Files), Offset: off, Size: ps.Size, GUID: ps.GUID, Persistence: ps.Entry, dirs: ps.Dirs, keep: ps.Keep, from: ps.From})
	}
	slices.SortFunc(out, func(a, b Partition) int { return int(a.Offset/mib - b.Offset/mib) })
	for i := 1; i < len(out); i++ {
		if out[i-1].Offset+out[i-1].Size > out[i].Offset {
			return nil, 0, fmt.Errorf("persistence partitions of %s and %s overlap", out[i-1].Persistence, out[i].Persistence)
		}
	}
	return out, blockStart, nil
}

// checkPersist refuses a persistence partition too small for its files,
// a label ext4 cannot hold, and sizes not in whole MiB.
func checkPersist(spec Spec) error {
	seen := map[string]string{}
	for _, ps := range spec.Persist {
		switch {
		case len(ps.Label) == 0 || len(ps.Label) > 16:
			return fmt.Errorf("persistence of %s: ext4 label %q must be 1 to 16 bytes", ps.Entry, ps.Label)
		case seen[ps.Label] != "":
			return fmt.Errorf("persistence of %s and %s: both labelled %q", seen[ps.Label], ps.Entry, ps.Label)
		case ps.Size%mib != 0 || ps.Size <= 0:
			return fmt.Errorf("persistence of %s: %d bytes is not a positive multiple of 1 MiB", ps.Entry, ps.Size)
		case ps.Keep && ps.Offset == 0:
			return fmt.Errorf("persistence of %s: kept without its offset", ps.Entry)
		case !ps.Keep && ext4Size(ext4Need(ps.Files)) > ps.Size:
			return fmt.Errorf("persistence of %s: %d bytes cannot hold an ext4 volume with its files (%d bytes)", ps.Entry, ps.Size, ext4Size(ext4Need(ps.Files)))
		}
		seen[ps.Label] = ps.Entry
		if err := checkTree(ps.Files, "", false); err != nil {
			return fmt.Errorf("persistence of %s: %w", ps.Entry, err)
		}
	}
	return nil
}

// persistBytes is the room the persistence partitions take.
func persistBytes(spec Spec) int64 {
	var n int64
	for _, ps := range spec.Persist {
		n += ps.Size
	}
	return n
}

// kept reports whether any persistence partition keeps its place.
func kept(spec Spec) bool {
	return slices.ContainsFunc(spec.Persist, func(ps Persist) bool { return ps.Offset != 0 })
}

// copyKept copies a kept persistence partition's bytes from where it was
// (Persist.From) to the same offset in the new image, leaving all-zero
// MiBs as holes; without From nothing is written (the target already
// holds it).
func (b *builder) copyKept(p *Partition) error {
	if p.from == nil {
		return nil
	}
	buf := make([]byte, mib)
	for off := int64(0); off < p.Size; off += mib {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		n := min(mib, p.Size-off)
		if _, err := p.from.ReadAt(buf[:n], p.Offset+off); err != nil {
			return fmt.Errorf("reading the kept persistence partition of %s: %w", p.Persistence, err)
		}
		if zero.All(buf[:n]) {
			continue
		}
		if _, err := b.f.WriteAt(buf[:n], p.Offset+off); err != nil {
			return fmt.Errorf("copying the kept persistence partition of %s: %w", p.Persistence, err)
		}
	}
	return nil
}

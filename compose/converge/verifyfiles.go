package converge

import (
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/ext4edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/config/digest"
)

// What Verify reads: the files the record names on each partition, as
// jobs for hashAll, and the files it does not name, as results already.

// fileJob is one recorded file to read whole and hash.
type fileJob struct {
	r    *io.SectionReader
	h    hash.Hash
	file int // index in Verification.Files
}

// espJobs lists the ESP's recorded files and ISOs, and its unrecorded
// files as added.
func espJobs(st *KitState, v *fatedit.Volume, index int, res *Verification) []fileJob {
	known := map[string]bool{strings.ToLower(StatePath): true}
	var jobs []fileJob
	for _, f := range recorded(st, index) {
		known[strings.ToLower(f.Path)] = true
		if j, ok := res.open(v, f); ok {
			jobs = append(jobs, j)
		}
	}
	for _, f := range v.Files() {
		if !known[strings.ToLower(f.Path)] {
			res.Files = append(res.Files, VerifiedFile{Path: f.Path, Partition: index, Kind: "extra", ActualSize: f.Size, Status: StatusAdded})
		}
	}
	return jobs
}

// dataJobs lists the data partition's recorded files, its leftovers and
// its unrecorded files; nil for a kit without one.
func dataJobs(t *Target, src io.ReaderAt, res *Verification) ([]fileJob, error) {
	index := t.State.DataIndex()
	if index == 0 {
		return nil, nil
	}
	files := recorded(t.State, index)
	off := t.Offset(index)
	if off < 0 {
		res.allMissing(files, fmt.Sprintf("the data partition %d is missing", index))
		return nil, nil
	}
	v, replayed, err := OpenExt4(src, off)
	switch {
	case errors.Is(err, ext4edit.ErrNoJournal):
		return nil, fmt.Errorf("its data partition was made by an older compose without a journal, which verify cannot read; rewrite it once with apply --recreate")
	case err != nil:
		res.allMissing(files, fmt.Sprintf("its data partition cannot be read: %v", err))
		return nil, nil
	}
	if replayed {
		res.Notes = append(res.Notes, "its data partition's journal holds an interrupted apply's last change: read as replayed (in memory); apply replays it")
	}
	known := map[string]bool{}
	var jobs []fileJob
	for _, f := range files {
		known[f.Path] = true
		if j, ok := res.open(v, f); ok {
			jobs = append(jobs, j)
		}
	}
	for _, f := range v.Files() {
		if known[f.Path] {
			continue
		}
		status := StatusAdded
		if isLeftover(f.Path) {
			status = StatusLeftover
		}
		res.Files = append(res.Files, VerifiedFile{Path: f.Path, Partition: index, Kind: "extra", ActualSize: f.Size, Status: status})
	}
	return jobs, nil
}

// recorded lists the files and ISOs the record places on partition
// index, as VerifiedFiles still to check.
func recorded(st *KitState, index int) []VerifiedFile {
	var out []VerifiedFile
	for _, f := range st.Files {
		if f.Partition == index {
			out = append(out, VerifiedFile{Path: f.Path, Partition: index, Kind: fileKind(f, st), Size: f.Size, Algorithm: "sha256", Expected: f.SHA256})
		}
	}
	for _, i := range st.ISOs {
		if i.Partition == index {
			out = append(out, VerifiedFile{Path: i.Path, Partition: index, Kind: "iso", Name: i.Name, Size: i.Size, Algorithm: i.Algorithm, Expected: i.Digest})
		}
	}
	return out
}

// open adds f to the results and returns its job, or marks it missing or
// changed (by size) with no job.
func (res *Verification) open(v opener, f VerifiedFile) (fileJob, bool) {
	res.Files = append(res.Files, f)
	vf := &res.Files[len(res.Files)-1]
	r, err := v.Open(f.Path)
	if err != nil {
		vf.Status = StatusMissing
		return fileJob{}, false
	}
	vf.ActualSize = r.Size()
	if r.Size() != f.Size {
		vf.Status = StatusChanged
		return fileJob{}, false
	}
	h, err := digest.New(f.Algorithm)
	if err != nil {
		vf.Status, vf.Error = StatusUnreadable, fmt.Sprintf("the record's digest: %v", err)
		return fileJob{}, false
	}
	return fileJob{r: r, h: h, file: len(res.Files) - 1}, true
}

// BIOSBootPath names core.img and the MBR boot code in results, as in a
// Change.
const BIOSBootPath = "BIOS boot partition"

// checkBIOSBoot reads core.img at the BIOS boot partition's start and the
// boot code at the disk's, the bytes KitState.BIOSBoot covers, and
// compares their digest; a record without their lengths gets a note.
func (res *Verification) checkBIOSBoot(t *Target, src io.ReaderAt) {
	st := t.State
	if st.BIOSBoot == "" {
		return
	}
	if st.BIOSBootSize <= 0 || st.BootCodeSize <= 0 || st.BIOSBootSize > maxBIOSBoot || st.BootCodeSize > bootCodeMax {
		res.Notes = append(res.Notes, "the BIOS boot code was not read: this kit's record, from an older compose, lacks its length")
		return
	}
	f := VerifiedFile{Path: BIOSBootPath, Kind: "bootloader", Size: st.BIOSBootSize + st.BootCodeSize, Algorithm: "sha256", Expected: st.BIOSBoot}
	off := int64(-1)
	for _, p := range t.Partitions {
		if p.Type == disk.TypeBIOSBoot {
			f.Partition, off = p.Index, p.Offset
		}
	}
	defer func() { res.Files = append(res.Files, f) }()
	if off < 0 {
		f.Status, f.Error = StatusMissing, "the disk has no BIOS boot partition"
		return
	}
	b := make([]byte, f.Size)
	core := b[:st.BIOSBootSize]
	if _, err := src.ReadAt(core, off); err != nil {
		f.Status, f.Error = StatusUnreadable, err.Error()
		return
	}
	if _, err := src.ReadAt(b[len(core):], 0); err != nil {
		f.Status, f.Error = StatusUnreadable, err.Error()
		return
	}
	f.ActualSize, f.Actual, f.Status = f.Size, sha256Hex(b), StatusOK
	res.BytesRead += f.Size
	if f.Actual != f.Expected {
		f.Status = StatusChanged
	}
}

// allMissing records files that cannot be reached at all.
func (res *Verification) allMissing(files []VerifiedFile, why string) {
	for _, f := range files {
		f.Status, f.Error = StatusMissing, why
		res.Files = append(res.Files, f)
	}
}

package converge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/fatedit"
)

// Target is what an existing image file or device holds, as ReadTarget
// found it.
type Target struct {
	Path string `json:"path"`
	// Kit is true when the target holds a readable compose state record.
	Kit   bool      `json:"kit"`
	State *KitState `json:"state,omitempty"`
	// Partitions are from the target's GPT.
	Partitions []TargetPartition `json:"partitions,omitempty"`
	// ESPFree is the free space on the ESP, in bytes.
	ESPFree int64 `json:"esp_free,omitempty"`
	// ESPCluster is the ESP's allocation unit in bytes.
	ESPCluster int64 `json:"esp_cluster,omitempty"`
	// Problems say why the target is not a kit, or what changed on it
	// outside compose (drift). Either refuses an incremental apply.
	Problems []string `json:"problems,omitempty"`
	// Drift is true when Problems are changes made outside compose.
	Drift bool `json:"drift,omitempty"`
	// Data is the ext4 data partition, for a kit that has one.
	Data *TargetData `json:"data,omitempty"`
	// Persistence are the persistence partitions the record names.
	Persistence []TargetPersistence `json:"persistence,omitempty"`

	record []byte // the state record's bytes, as read
}

// TargetPartition is one partition of the target's GPT.
type TargetPartition struct {
	Index  int    `json:"index"`
	Type   string `json:"type"` // GPT type GUID
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	GUID   string `json:"guid,omitempty"`
}

// ReadTarget opens the image file or block device at path read-only and
// reports what it holds: the state record, if any, and every difference
// between the record and the ESP's files (sizes; full digests of the small
// files; the first and last 64 KiB of each ISO), on the ESP and on the ext4
// data partition (see TargetData). Errors are for targets that cannot be
// read at all.
func ReadTarget(path string) (*Target, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Read(f)
}

// Read is ReadTarget on a file the caller opened (Target.Path is
// f.Name()).
func Read(f *os.File) (*Target, error) {
	t, v, esp, err := readRecord(f, f)
	if err != nil || !t.Kit {
		return t, err
	}
	t.checkDrift(v, esp)
	t.checkData(f)
	t.checkPersistence(f)
	return t, nil
}

// ReadRecord reads only the GPT of f and the state record on its ESP,
// none of the files the record names: apply reads that much again to
// check that the target is still the one planned (Unchanged).
func ReadRecord(f *os.File) (*Target, error) {
	t, _, _, err := readRecord(f, f)
	return t, err
}

// ErrChanged is matched when a target changed between its plan and the
// apply of that plan.
var ErrChanged = errors.New("the target changed since it was planned")

// Unchanged checks that now (ReadRecord's, read just before an apply)
// holds the partitions, the ESP's free space and the state record, byte
// for byte, that t (the plan's) was read with; else the error matches
// ErrChanged.
func (t *Target) Unchanged(now *Target) error {
	if now.Kit == t.Kit && bytes.Equal(now.record, t.record) && slices.Equal(now.Partitions, t.Partitions) && now.ESPFree == t.ESPFree {
		return nil
	}
	return fmt.Errorf("%s: %w: its partitions, free space or state record are not the ones the plan read; nothing was written, plan again", t.Path, ErrChanged)
}

// readRecord reads the GPT of f, then the ESP and its state record through
// r (f itself, or f's bytes read another way), and returns the ESP and its
// partition index. The Target is a kit (Kit) only when the record is
// readable and of this compose's format.
func readRecord(f *os.File, r io.ReaderAt) (*Target, *fatedit.Volume, int, error) {
	t := &Target{Path: f.Name()}
	esp, err := t.readGPT(f)
	if err != nil || esp == nil {
		return t, nil, 0, err
	}
	v, err := fatedit.Open(readOnly{r}, esp.Offset)
	if err != nil {
		t.Problems = append(t.Problems, fmt.Sprintf("its EFI System Partition cannot be read: %v", err))
		return t, nil, 0, nil
	}
	t.ESPFree, t.ESPCluster = v.Free(), v.ClusterSize()
	b, err := v.ReadFile(StatePath)
	if err != nil {
		t.Problems = append(t.Problems, "it has no compose state record ("+StatePath+")")
		return t, nil, 0, nil
	}
	t.record = b
	if t.State, err = ParseState(b); err != nil {
		t.Problems = append(t.Problems, err.Error())
		return t, nil, 0, nil
	}
	if t.State.Format != StateFormat {
		t.Problems = append(t.Problems, fmt.Sprintf("its state record has format %d; this compose writes format %d", t.State.Format, StateFormat))
		return t, nil, 0, nil
	}
	if bad := recordProblems(t.State, esp.Index); len(bad) > 0 {
		t.Problems = append(t.Problems, bad...)
		return t, nil, 0, nil
	}
	t.Kit = true
	return t, v, esp.Index, nil
}

// readGPT lists the partitions and returns the ESP, or nil with a
// Problem when there is no GPT or no ESP.
func (t *Target) readGPT(f *os.File) (*TargetPartition, error) {
	if why := checkGPTHeaders(f); why != "" { // before go-diskfs reads it
		t.Problems = append(t.Problems, why)
		return nil, nil
	}
	d, err := diskfs.OpenBackend(file.New(f, true), diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		t.Problems = append(t.Problems, fmt.Sprintf("it cannot be read as a disk: %v", err))
		return nil, nil
	}
	pt, err := d.GetPartitionTable()
	g, ok := pt.(*gpt.Table)
	if err != nil || !ok {
		t.Problems = append(t.Problems, "it has no GUID partition table")
		return nil, nil
	}
	var esp *TargetPartition
	for _, p := range g.Partitions {
		if p.Type == gpt.Unused {
			continue
		}
		tp := TargetPartition{Index: p.Index, Type: strings.ToUpper(string(p.Type)), GUID: strings.ToUpper(p.GUID)}
		tp.Offset, tp.Size = partitionExtent(p.Start, p.End, uint64(g.LogicalSectorSize))
		t.Partitions = append(t.Partitions, tp)
		if tp.Type == disk.TypeESP && esp == nil {
			esp = &t.Partitions[len(t.Partitions)-1]
		}
	}
	if bad := partitionProblems(t.Partitions, d.Size); len(bad) > 0 {
		t.Problems = append(t.Problems, bad...)
		return nil, nil
	}
	if esp == nil {
		t.Problems = append(t.Problems, "it has no EFI System Partition")
		return nil, nil
	}
	e := *esp
	return &e, nil
}

// checkDrift compares the ESP's files with the record.
func (t *Target) checkDrift(v *fatedit.Volume, espIndex int) {
	known := map[string]bool{strings.ToLower(StatePath): true}
	drift := t.drift
	for _, f := range t.State.Files {
		if f.Partition != espIndex {
			continue
		}
		known[strings.ToLower(f.Path)] = true
		b, err := v.ReadFile(f.Path)
		switch {
		case err != nil:
			drift("%s is missing", f.Path)
		case sha256Hex(b) != f.SHA256:
			drift("%s was changed outside compose", f.Path)
		}
	}
	for _, iso := range t.State.ISOs {
		if iso.Partition != espIndex {
			continue
		}
		known[strings.ToLower(iso.Path)] = true
		if msg := checkISO(v, iso); msg != "" {
			drift("%s", msg)
		}
	}
	for _, f := range v.Files() {
		if !known[strings.ToLower(f.Path)] {
			drift("%s was added outside compose", f.Path)
		}
	}
}

func (t *Target) drift(format string, a ...any) {
	t.Problems = append(t.Problems, fmt.Sprintf(format, a...))
	t.Drift = true
}

// opener is a volume's file reader: fatedit's or ext4edit's.
type opener interface {
	Open(path string) (*io.SectionReader, error)
}

func checkISO(v opener, iso StateISO) string {
	r, err := v.Open(iso.Path)
	if err != nil {
		return iso.Path + " is missing"
	}
	if r.Size() != iso.Size {
		return fmt.Sprintf("%s is %d bytes; compose wrote %d", iso.Path, r.Size(), iso.Size)
	}
	s, err := sample(r, r.Size())
	if err != nil {
		return fmt.Sprintf("%s cannot be read: %v", iso.Path, err)
	}
	if s != iso.Sample {
		return iso.Path + " was changed outside compose"
	}
	return ""
}

// readOnly lets fatedit read a target it must not write.
type readOnly struct{ io.ReaderAt }

func (readOnly) WriteAt([]byte, int64) (int, error) { return 0, errors.New("target opened read-only") }

package converge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/usbkit/compose/bootloader"
)

// StatePath is where every kit records what it holds, on its ESP.
const StatePath = "/compose/state.json"

// StateFormat is the layout version a state record describes; a kit with
// another format is rewritten only with --recreate.
const StateFormat = 1

// KitState is the record a kit keeps of itself: enough to tell, without
// reading the ISOs whole, what the stick holds and whether anything
// changed it since compose wrote it. It is written in the same atomic step
// as the menu.
type KitState struct {
	Format   int      `json:"format"`
	Compose  string   `json:"compose"` // version of compose that wrote it
	Kit      string   `json:"kit"`     // digest of the manifest's meaning and the pinned ISOs
	StickID  string   `json:"stick_id"`
	Storage  string   `json:"storage"`
	Firmware []string `json:"firmware"`
	BIOSBoot string   `json:"bios_boot,omitempty"` // SHA-256 of core.img and the MBR boot code
	// BIOSBootSize and BootCodeSize are the lengths BIOSBoot covers:
	// core.img at the BIOS boot partition's start, the boot code at the
	// disk's (Verify reads them; records before them lack both).
	BIOSBootSize int64            `json:"bios_boot_size,omitempty"`
	BootCodeSize int64            `json:"boot_code_size,omitempty"`
	Partitions   []StatePartition `json:"partitions"`
	ISOs         []StateISO       `json:"isos"`
	Files        []StateFile      `json:"files"` // every other file compose wrote, this record excepted
	// Interim marks the record a two-step apply commits first: the ISOs
	// it replaces or removes are gone, with their menu entries, and the
	// new ones are not written yet. Apply again finishes it.
	Interim bool `json:"interim,omitempty"`
}

// StatePartition is one partition as built.
type StatePartition struct {
	Index int    `json:"index"`
	FS    string `json:"fs"`
	// Persistence is set on a persistence partition. compose never
	// writes inside one after building it: the record says where it is,
	// not what it holds (the user's data).
	Persistence *StatePersistence `json:"persistence,omitempty"`
}

// StatePersistence is where one entry's persistence partition is.
type StatePersistence struct {
	Entry  string `json:"entry"`
	Label  string `json:"label"` // ext4 volume label
	Name   string `json:"name"`  // GPT partition name
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
	GUID   string `json:"guid"` // GPT partition GUID
}

// Persistence lists the record's persistence partitions.
func (st *KitState) Persistence() []StatePersistence {
	var out []StatePersistence
	for _, p := range st.Partitions {
		if p.Persistence != nil {
			out = append(out, *p.Persistence)
		}
	}
	return out
}

// StateISO is one ISO on the kit.
type StateISO struct {
	Name      string `json:"name"`
	Path      string `json:"path"`
	Partition int    `json:"partition"`
	Size      int64  `json:"size"`
	Algorithm string `json:"algorithm"`
	Digest    string `json:"digest"`
	// Sample is the SHA-256 of the first and last 64 KiB: a cheap check
	// that the file on the stick is still the one written.
	Sample string `json:"sample"`
}

// StateFile is one other file (boot files, menu, markers).
type StateFile struct {
	Path      string `json:"path"`
	Partition int    `json:"partition"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
}

const sampleSize = 64 << 10

// sample hashes the first and last 64 KiB of r (size bytes).
func sample(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	head := min(size, sampleSize)
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, head)); err != nil {
		return "", err
	}
	tail := max(head, size-sampleSize)
	if _, err := io.Copy(h, io.NewSectionReader(r, tail, size-tail)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SampleFile is sample on the file at path.
func SampleFile(path string, size int64) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return sample(f, size)
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// RecordFile is the record of a file compose writes from data.
func RecordFile(path string, partition int, data []byte) StateFile {
	return StateFile{Path: path, Partition: partition, Size: int64(len(data)), SHA256: sha256Hex(data)}
}

// SetBIOSBoot records the BIOS boot code: core.img and the MBR's boot code.
func (st *KitState) SetBIOSBoot(core, bootCode []byte) {
	st.BIOSBoot = sha256Hex(append(append([]byte(nil), core...), bootCode...))
	st.BIOSBootSize, st.BootCodeSize = int64(len(core)), int64(len(bootCode))
}

// InterimRecord encodes the record a two-step apply commits first: st
// without the ISOs named missing, and with menu as its grub.cfg.
func (st *KitState) InterimRecord(missing map[string]bool, menu []byte) ([]byte, error) {
	in := *st
	in.Interim, in.ISOs, in.Files = true, nil, slices.Clone(st.Files)
	for _, i := range st.ISOs {
		if !missing[i.Name] {
			in.ISOs = append(in.ISOs, i)
		}
	}
	for i, f := range in.Files {
		if f.Path == bootloader.ConfigPath {
			in.Files[i].Size, in.Files[i].SHA256 = int64(len(menu)), sha256Hex(menu)
		}
	}
	return in.Encode()
}

// Encode gives the record as written on the ESP.
func (st *KitState) Encode() ([]byte, error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseState decodes a state record.
func ParseState(b []byte) (*KitState, error) {
	var st KitState
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %w", StatePath, err)
	}
	if st.Format == 0 || st.StickID == "" {
		return nil, fmt.Errorf("%s: not a compose state record", StatePath)
	}
	return &st, nil
}

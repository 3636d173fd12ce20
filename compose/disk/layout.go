package disk

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// GPT partition type GUIDs.
const (
	TypeBIOSBoot  = "21686148-6449-6E6F-744E-656564454649"
	TypeESP       = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
	TypeLinuxData = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
)

// File system kinds in Partition.FS.
const (
	FSRaw   = "raw"
	FSFAT32 = "fat32"
	FSExt4  = "ext4"
)

// ErrTooSmall is returned (wrapped, with the numbers) when Spec.Size cannot
// hold the contents.
var ErrTooSmall = errors.New("image size too small")

// ErrFileTooBig is returned (wrapped) for a file of 4 GiB or more bound for
// FAT32.
var ErrFileTooBig = errors.New("file too big for FAT32")

// Partition is one planned partition.
type Partition struct {
	Index             int    // GPT index, from 1
	Name              string // GPT name
	Type              string // GPT type GUID
	GUID              string // partition GUID, from the seed
	FirstLBA, LastLBA uint64 // inclusive, 512-byte sectors
	Offset, Size      int64  // bytes
	FS                string // FSRaw, FSFAT32 or FSExt4
	Label             string
	FAT               *FATGeometry // for FSFAT32
	Files             []File       // sorted by Path
	Content           int64        // bytes the files and directories need
	// Persistence names the entry whose persistence partition this is
	// (Spec.Persist); "" for every other partition.
	Persistence string

	dirs []string    // Persist.Dirs
	uuid string      // the ext4 UUID Reformat keeps; "" derives it from the seed
	keep bool        // Persist.Keep: Build writes none of its bytes
	from io.ReaderAt // Persist.From: where a kept partition's bytes are copied from
}

// Layout is the computed plan for an image.
type Layout struct {
	Size       int64 // image bytes
	DiskGUID   string
	Time       time.Time
	Partitions []Partition
	// Headroom is what size: auto added beyond the contents (0 for an
	// explicit size).
	Headroom int64
	// Notes say what Layout adjusted and why.
	Notes []string

	seed     []byte
	journal  bool
	bootCode []byte
	biosBoot []byte
}

// Partition returns the partition with file system fs, or nil; a
// persistence partition is never the one returned.
func (l *Layout) Partition(fs string) *Partition {
	for i := range l.Partitions {
		if l.Partitions[i].FS == fs && l.Partitions[i].Persistence == "" {
			return &l.Partitions[i]
		}
	}
	return nil
}

const (
	firstLBA    = 2048 // 1 MiB
	gptTailSize = mib  // backup GPT needs 33 sectors; keep the end 1 MiB aligned
	ext4Min     = 16 * mib
)

// ComputeLayout computes partitions, FAT geometry and file placement from spec,
// without touching any file. Every input error is reported here.
func ComputeLayout(spec Spec) (Layout, error) {
	l := Layout{Time: spec.Time, seed: spec.Seed, bootCode: spec.BootCode, biosBoot: spec.BIOSBoot, journal: spec.Journal}
	if l.Time.IsZero() {
		l.Time = DefaultTime()
	}
	if y := l.Time.UTC().Year(); y < 1980 || y > 2107 {
		return l, fmt.Errorf("timestamp %s is outside FAT's range 1980-2107", l.Time)
	}
	if len(spec.BootCode) > 440 {
		return l, fmt.Errorf("boot code is %d bytes; at most 440 fit before the MBR's disk signature", len(spec.BootCode))
	}
	if len(spec.BIOSBoot) > int(mib) {
		return l, fmt.Errorf("BIOS boot content is %d bytes; the partition holds %d", len(spec.BIOSBoot), mib)
	}
	if spec.Size%sectorSize != 0 || spec.Size < 0 {
		return l, fmt.Errorf("image size %d is not a positive multiple of 512", spec.Size)
	}
	espFiles, dataFiles, err := route(spec)
	if err != nil {
		return l, err
	}
	if err := checkVolumes(spec, espFiles, dataFiles); err != nil {
		return l, err
	}
	if err := checkVolumeSpecs(spec.Volumes); err != nil {
		return l, err
	}
	if err := checkPersist(spec); err != nil {
		return l, err
	}
	return l, l.place(spec, espFiles, dataFiles)
}

// route decides which volume each file goes to.
func route(spec Spec) (esp, data []File, err error) {
	esp = append(esp, spec.ESP.Files...)
	data = append(data, spec.Data.Files...)
	for _, f := range spec.ISOs {
		switch {
		case spec.Placement == PlaceAllOnData:
			data = append(data, f)
		case spec.Placement == PlaceAuto && f.size() > maxFATFile:
			data = append(data, f)
		default:
			esp = append(esp, f)
		}
	}
	for _, f := range esp {
		if f.size() > maxFATFile {
			return nil, nil, fmt.Errorf("%s: %d bytes: %w (at most %d bytes; put it on the ext4 data partition)", f.Path, f.size(), ErrFileTooBig, maxFATFile)
		}
	}
	sortFiles(esp)
	sortFiles(data)
	return esp, data, nil
}

func sortFiles(fs []File) { sort.Slice(fs, func(i, j int) bool { return fs[i].Path < fs[j].Path }) }

func checkVolumes(spec Spec, esp, data []File) error {
	label := spec.ESP.Label
	if err := checkFATLabel(label); err != nil {
		return err
	}
	if len(spec.Data.Label) > 16 {
		return fmt.Errorf("ext4 label %q is %d bytes; ext4 holds at most 16", spec.Data.Label, len(spec.Data.Label))
	}
	if err := checkTree(esp, strings.TrimSpace(label), true); err != nil {
		return fmt.Errorf("ESP: %w", err)
	}
	if err := checkTree(data, "", false); err != nil {
		return fmt.Errorf("data partition: %w", err)
	}
	return nil
}

// checkTree validates paths and, on FAT, simulates go-diskfs's directory
// entries in creation order to catch colliding names.
func checkTree(files []File, label string, fat bool) error {
	dirs := map[string]*fatDir{}
	kind := map[string]string{} // path -> "dir" or "file", case-folded on FAT
	key := func(p string) string {
		if fat {
			return strings.ToLower(p)
		}
		return p
	}
	for _, f := range files {
		if err := checkPath(f.Path); err != nil {
			return err
		}
		if f.Source == "" && f.Open == nil && f.Size != 0 && f.Size != int64(len(f.Data)) {
			return fmt.Errorf("%s: Size %d but %d bytes of Data", f.Path, f.Size, len(f.Data))
		}
		if f.SHA256 != "" && !isHex64(f.SHA256) {
			return fmt.Errorf("%s: SHA256 %q is not 64 hex digits", f.Path, f.SHA256)
		}
		if f.Size < 0 {
			return fmt.Errorf("%s: negative size", f.Path)
		}
		if label != "" && parentDir(f.Path) == "/" && strings.EqualFold(baseName(f.Path), label) {
			return fmt.Errorf("%s: same name as the volume label", f.Path)
		}
		if err := addPath(f.Path, dirs, kind, key, fat); err != nil {
			return err
		}
	}
	return nil
}

func addPath(p string, dirs map[string]*fatDir, kind map[string]string, key func(string) string, fat bool) error {
	parts := strings.Split(p[1:], "/")
	cur := "/"
	for i, name := range parts {
		next := strings.TrimSuffix(cur, "/") + "/" + name
		want := "dir"
		if i == len(parts)-1 {
			want = "file"
		}
		if k, ok := kind[key(next)]; ok {
			if k != want || want == "file" {
				return fmt.Errorf("%s: clashes with another %s at %s", p, k, next)
			}
			cur = next
			continue
		}
		kind[key(next)] = want
		if fat {
			if dirs[cur] == nil {
				dirs[cur] = &fatDir{}
			}
			if err := dirs[cur].add(name); err != nil {
				return fmt.Errorf("in %s: %w", cur, err)
			}
		}
		cur = next
	}
	return nil
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

package disk

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// TypeBasicData is the GPT type of a Volume: Microsoft basic data, the type
// Windows (and Windows Setup) mounts a FAT32 partition of.
const TypeBasicData = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"

// Volume is a FAT32 partition of its own (a Windows installer's files):
// GPT basic data, sized to its files plus volumeHeadroom, whatever
// Spec.Size (an explicit size gives the rest to the ESP and the data
// partition). Its FAT volume ID comes from the seed and its Name.
type Volume struct {
	Name  string // GPT partition name, unique among the volumes
	Label string // FAT volume label, at most 11 characters
	Files []File // every one under 4 GiB
}

// volumeHeadroom is what a Volume gets beyond its files: room for the
// directory estimates' error and a replaced small file (an answer file).
func volumeHeadroom(content int64) int64 { return 8*mib + content/100 }

func checkVolumeSpecs(vs []Volume) error {
	names := map[string]bool{}
	for _, v := range vs {
		if v.Name == "" || names[v.Name] {
			return fmt.Errorf("volume %q: a volume needs a name of its own", v.Name)
		}
		names[v.Name] = true
		if err := checkFATLabel(v.Label); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
		for _, f := range v.Files {
			if f.size() > maxFATFile {
				return fmt.Errorf("volume %s: %s: %d bytes: %w (at most %d bytes)", v.Name, f.Path, f.size(), ErrFileTooBig, maxFATFile)
			}
		}
		files := append([]File(nil), v.Files...)
		sortFiles(files)
		if err := checkTree(files, strings.TrimSpace(v.Label), true); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// volumeSizes are the volumes' partition sizes, in Spec order, and their
// sum.
func volumeSizes(vs []Volume) ([]int64, int64) {
	sizes := make([]int64, len(vs))
	var sum int64
	for i, v := range vs {
		min, _ := smallestFAT(v.Files, 0)
		sizes[i], _ = smallestFAT(v.Files, min+volumeHeadroom(fatNeed(v.Files, 512)))
		sum += sizes[i]
	}
	return sizes, sum
}

// volumePartitions returns the volumes as partitions, files sorted, with
// their geometry; add places each.
func volumePartitions(spec Spec, sizes []int64, add func(Partition, int64)) error {
	for i, v := range spec.Volumes {
		g, err := fatGeometry(sizes[i])
		if err != nil {
			return fmt.Errorf("volume %s of %d bytes: %w", v.Name, sizes[i], err)
		}
		g.VolumeID = binary.LittleEndian.Uint32(seedBytes(spec.Seed, "fat volume id "+v.Name))
		files := append([]File(nil), v.Files...)
		sortFiles(files)
		add(Partition{Name: v.Name, Type: TypeBasicData, FS: FSFAT32, Label: v.Label, FAT: &g,
			Files: files, Content: fatNeed(files, g.ClusterSize)}, sizes[i])
	}
	return nil
}

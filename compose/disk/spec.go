package disk

import (
	"io"
	"os"
	"strconv"
	"time"
)

// File is one file to place on a volume.
type File struct {
	// Path on the volume, absolute, slash-separated: "/isos/debian.iso".
	Path string
	// Source is a host file to copy. Exactly one of Source and Data is used;
	// Source wins when both are set.
	Source string
	// Data is the content when there is no Source.
	Data []byte
	// Size is the declared size in bytes. With Data it may be 0 (len(Data)
	// is used). With Source it is what Layout plans with; Build fails if the
	// host file's size differs.
	Size int64
	// SHA256 (hex), when known (the fetch step verified it), lets Build
	// copy a Source file in the kernel, and is what Verify compares the
	// read-back bytes with.
	SHA256 string
	// Algorithm ("sha256" or "sha512") and Digest (hex), when set, are what
	// Source's bytes must hash to (a lock's pin). Build hashes the bytes it
	// places, always (Verify on or off), and fails with a *SourceError
	// when they differ: a file changed after it was verified never reaches
	// an image.
	Algorithm, Digest string
	// Open, when there is no Source, streams the content (a file inside
	// an ISO, a WIM part being written): Size is then required, and Build
	// fails when Open's reader gives other than Size bytes. It is called
	// once to place the file and once more when Verify reads it back
	// without a declared SHA256.
	Open func() (io.ReadCloser, error)
	// Copy, beside Open, writes the file's Size bytes into dst at the
	// image ranges ext (in file order) without passing them through
	// Build's buffers, as CopyExtents does for a range of a host file (a
	// file inside an ISO) or a WIM part's writer does straight into the
	// image. Build then records no digest for the file, and Verify reads
	// it back against Open; a deferred build (Defer) uses Open instead.
	Copy func(dst *os.File, ext []Extent) error
}

func (f File) size() int64 {
	if f.Source == "" && f.Open == nil && f.Size == 0 {
		return int64(len(f.Data))
	}
	return f.Size
}

// Placement chooses where Spec.ISOs go.
type Placement int

const (
	// PlaceAuto puts ISOs under 4 GiB on the ESP and larger ones on the data
	// partition, which exists only when something goes there.
	PlaceAuto Placement = iota
	// PlaceAllOnData puts every ISO on the data partition.
	PlaceAllOnData
	// PlaceAllOnESP puts every ISO on the ESP; an ISO of 4 GiB or more is
	// then an error.
	PlaceAllOnESP
)

// ESP describes the FAT32 EFI System Partition.
type ESP struct {
	Name  string // GPT partition name; default "EFI System"
	Label string // FAT volume label, at most 11 characters; default "NO NAME"
	Files []File // always on the ESP (bootloader files)
}

// Data describes the optional ext4 data partition.
type Data struct {
	Name  string // GPT partition name; default "data"
	Label string // ext4 volume label, at most 16 bytes; default "data"
	Files []File // always on the data partition; forces it to exist
}

// Spec is everything Build needs.
type Spec struct {
	// Size of the image in bytes, a multiple of 512; 0 sizes it from the
	// contents plus headroom (see Layout).
	Size int64
	// Seed determines the disk and partition GUIDs, the FAT volume ID and the
	// ext4 UUID and hash seed. Use something derived from the content (e.g.
	// the lock file's digest) so that equal inputs give equal images.
	Seed []byte
	// Time stamps every file and directory. Zero means DefaultTime().
	Time time.Time
	// BIOSBoot, when non-nil, creates a 1 MiB BIOS boot partition holding
	// these bytes (GRUB's core.img) at its start.
	BIOSBoot []byte
	// BootCode, when non-nil, is written at LBA 0 bytes 0..len-1 (at most
	// 440); the protective MBR's bytes 440..511 are kept.
	BootCode []byte
	ESP      ESP
	Data     Data
	// ISOs are placed under Placement's rule.
	ISOs      []File
	Placement Placement
	// Persist are the persistence partitions, at the end of the disk (see
	// Persist). With one kept at its Offset, Size must be given.
	Persist []Persist
	// Volumes are further FAT32 partitions (GPT basic data), each with its
	// own files, after the ESP and the data partition and in front of the
	// persistence partitions (see Volume).
	Volumes []Volume
	// Verify makes Build read everything back (Verify) before renaming.
	Verify bool
	// Defer makes Build allocate every host-file source (File.Source) on
	// its volume without copying its bytes: the image then holds the
	// metadata only (a few MiB allocated, whatever the kit's size) and
	// Result.Files gives each deferred file's Extents, for a writer that
	// streams the sources straight to a device (compose/device). Verify
	// then skips deferred files; their extents read as zeros in the image.
	Defer bool
	// Journal adds compose/internal/ext4edit's jbd2 journal to the ext4
	// data partition once its files are in (see addJournal), so that
	// compose can change the partition in place later. Without it the
	// partition is as compose made it before in-place updates, which
	// ext4edit refuses to change (its tests add their own journal).
	Journal bool
}

// DefaultEpoch is the timestamp used when neither Spec.Time nor
// SOURCE_DATE_EPOCH is set: 2020-01-01 00:00:00 UTC.
var DefaultEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultTime returns SOURCE_DATE_EPOCH when it is set and valid, else
// DefaultEpoch.
func DefaultTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return DefaultEpoch
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventPlace reports bytes of a file written into the image.
	EventPlace EventKind = iota + 1
	// EventVerify reports bytes of a file read back and hashed.
	EventVerify
)

func (k EventKind) String() string {
	switch k {
	case EventPlace:
		return "place"
	case EventVerify:
		return "verify"
	}
	return "unknown"
}

// Event is a progress report. Done and Total count bytes of the file at Path;
// AllDone and AllTotal count bytes of all files in this phase.
type Event struct {
	Kind              EventKind
	Path              string
	Partition         int // GPT partition index holding Path
	Done, Total       int64
	AllDone, AllTotal int64
}

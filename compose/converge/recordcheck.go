package converge

import (
	"fmt"
	"path"
	"strings"

	"github.com/usbkit/compose/compose/disk"
)

// What the BIOS boot lengths of a record may be: core.img fills at most
// the 1 MiB BIOS boot partition; the MBR's boot code is 440 bytes.
const (
	maxBIOSBoot = 1 << 20
	bootCodeMax = 440
)

// recordProblems says what in a state record no compose writes: a file
// placed on a partition that is neither the ESP (espIndex) nor the
// record's data partition, a path that is not clean and absolute, a
// negative size, BIOS boot lengths out of range. Verify would leave such
// a file unread yet count the kit ok, and apply would act on paths it
// never wrote; a record carrying any is not a kit's.
func recordProblems(st *KitState, espIndex int) []string {
	var out []string
	data := st.DataIndex()
	check := func(p string, part int, size int64) {
		switch {
		case !path.IsAbs(p) || path.Clean(p) != p:
			out = append(out, fmt.Sprintf("its state record names %q, not a clean absolute path", p))
		case part != espIndex && (data == 0 || part != data):
			out = append(out, fmt.Sprintf("its state record places %s on partition %d, which is neither its EFI System Partition (%d) nor its data partition", p, part, espIndex))
		case size < 0:
			out = append(out, fmt.Sprintf("its state record gives %s a size of %d bytes", p, size))
		}
	}
	for _, f := range st.Files {
		check(f.Path, f.Partition, f.Size)
	}
	for _, iso := range st.ISOs {
		check(iso.Path, iso.Partition, iso.Size)
	}
	out = append(out, persistProblems(st, espIndex, data)...)
	if st.BIOSBootSize < 0 || st.BIOSBootSize > maxBIOSBoot || st.BootCodeSize < 0 || st.BootCodeSize > bootCodeMax {
		out = append(out, fmt.Sprintf("its state record gives the BIOS boot code lengths out of range (core.img %d bytes, boot code %d)", st.BIOSBootSize, st.BootCodeSize))
	}
	return out
}

// maxListed bounds the items an error message lists: a hostile record can
// name 200,000 files, which made one error line of 4 MB.
const maxListed = 20

// joinSome joins items with "; ", listing at most maxListed of them and
// counting the rest.
func joinSome(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return strings.Join(items[:maxListed], "; ") + fmt.Sprintf("; and %d more", len(items)-maxListed)
}

// persistProblems says what is wrong with the record's persistence
// partitions: one that is the ESP or the data partition, not ext4, or
// without an entry, a label ext4 holds, an extent or a GUID, or an entry
// named twice. compose never writes inside one, but Reformat and
// --recreate act on where the record says they are.
func persistProblems(st *KitState, espIndex, data int) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range st.Partitions {
		ps := p.Persistence
		switch {
		case ps == nil:
		case p.Index == espIndex || p.Index == data || p.FS != disk.FSExt4:
			out = append(out, fmt.Sprintf("its state record makes partition %d a persistence partition, which is its EFI System Partition, its data partition or not ext4", p.Index))
		case ps.Entry == "" || seen[ps.Entry] || ps.Label == "" || len(ps.Label) > 16 || ps.Offset <= 0 || ps.Size <= 0 || ps.GUID == "":
			out = append(out, fmt.Sprintf("its state record names a persistence partition (%d) without a valid entry, label, offset, size or GUID", p.Index))
		}
		if ps != nil {
			seen[ps.Entry] = true
		}
	}
	return out
}

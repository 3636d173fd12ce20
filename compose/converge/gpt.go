package converge

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/usbkit/compose/config/bytesize"
)

// A target's GPT is hostile input: a stick or image may hold anything.
// go-diskfs v1.9.4 (gpt.Read) allocates the partition entry array as the
// header sizes it, entries × entry size, before reading a byte of it: a
// header claiming 2^32-1 entries asked for 512 GiB and ended compose with
// "fatal error: runtime: out of memory", which no recover catches. Both
// headers it may read (the primary at LBA 1, and the backup in the last
// sector, which it falls back to when the primary fails its CRC) are
// checked first.

// maxGPTEntryBytes bounds a GPT's partition entry array: real ones hold
// 128 entries of 128 bytes (16 KiB), the UEFI minimum.
const maxGPTEntryBytes = 1 << 20

// checkGPTHeaders says what is wrong with a GPT header of f that go-diskfs
// would size its reads by, or "". It looks where go-diskfs does, for
// sectors of 512 and of 4096 bytes.
func checkGPTHeaders(f *os.File) string {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return "" // go-diskfs says why it cannot read it
	}
	for _, ss := range []int64{512, 4096} {
		if size >= 2*ss {
			if why := checkGPTHeadersAt(f, size, ss); why != "" {
				return why
			}
		}
	}
	return ""
}

func checkGPTHeadersAt(r io.ReaderAt, size int64, ss int64) string {
	for _, h := range []struct {
		what string
		lba  int64
	}{{"primary", 1}, {"backup", size/ss - 1}} {
		hdr := make([]byte, 92)
		if _, err := r.ReadAt(hdr, h.lba*ss); err != nil || !bytes.Equal(hdr[:8], []byte("EFI PART")) {
			continue
		}
		n, esize := binary.LittleEndian.Uint32(hdr[80:]), binary.LittleEndian.Uint32(hdr[84:])
		switch {
		case esize < 128 || esize%8 != 0:
			return fmt.Sprintf("its %s GUID partition table header gives partition entries of %d bytes (at least 128, a multiple of 8)", h.what, esize)
		case uint64(n)*uint64(esize) > maxGPTEntryBytes:
			return fmt.Sprintf("its %s GUID partition table header claims %d entries of %d bytes (%s; real tables hold 16 KiB)",
				h.what, n, esize, bytesize.Format(int64(uint64(n)*uint64(esize))))
		}
	}
	return ""
}

// partitionProblems says which of the partitions do not fit the target
// (size bytes) or overlap another: a truncated copy of an image, a stick
// smaller than the image written to it, or a crafted table.
func partitionProblems(parts []TargetPartition, size int64) []string {
	var out []string
	for _, p := range parts {
		switch {
		case p.Offset < 0 || p.Size <= 0:
			out = append(out, fmt.Sprintf("its partition %d has no valid extent in the partition table (start or end out of range)", p.Index))
		case p.Offset+p.Size > size:
			out = append(out, fmt.Sprintf("its partition %d ends at byte %d, but the target has %d bytes (a truncated copy, or written to a smaller stick?)", p.Index, p.Offset+p.Size, size))
		}
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b TargetPartition) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		if a.Size > 0 && b.Size > 0 && a.Offset+a.Size > b.Offset {
			out = append(out, fmt.Sprintf("its partitions %d and %d overlap", a.Index, b.Index))
		}
	}
	return out
}

// partitionExtent turns a GPT entry's first and last LBA into bytes; an
// entry that ends before it starts, or lies beyond what int64 bytes
// address, gets offset -1 and size 0.
func partitionExtent(first, last, ss uint64) (offset, size int64) {
	const limit = 1 << 62
	if last < first || ss == 0 || last >= limit/ss {
		return -1, 0
	}
	return int64(first * ss), int64((last - first + 1) * ss)
}

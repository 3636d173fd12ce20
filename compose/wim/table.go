package wim

import (
	"encoding/binary"
	"fmt"
	"io"
)

// blobEntrySize is one lookup table entry on disk: a resource header, the
// part number, the reference count and the SHA-1 of the data.
const blobEntrySize = 50

// MaxBlobTableSize bounds the lookup table ReadBlobTable reads: 1.3
// million entries, about ten times a multi-edition Windows 11 install.wim.
const MaxBlobTableSize = 64 << 20

// BlobEntry is one entry of a WIM's lookup table.
type BlobEntry struct {
	Res        ResHdr
	PartNumber uint16
	RefCount   uint32
	Hash       [20]byte
}

// Metadata says whether the entry is an image's metadata resource.
func (e *BlobEntry) Metadata() bool { return e.Res.Flags&ResMetadata != 0 }

func (e *BlobEntry) put(b []byte) {
	e.Res.put(b)
	binary.LittleEndian.PutUint16(b[24:], e.PartNumber)
	binary.LittleEndian.PutUint32(b[26:], e.RefCount)
	copy(b[30:50], e.Hash[:])
}

// ReadBlobTable reads the lookup table h locates in r (size bytes): every
// entry, in the table's order, each checked to lie inside the file.
func ReadBlobTable(r io.ReaderAt, size int64, h *Header) ([]BlobEntry, error) {
	t := h.BlobTable
	if t.Flags&(ResCompressed|ResSolid) != 0 {
		return nil, fmt.Errorf("%w: compressed lookup table (resource flags %#x)", ErrUnsupported, t.Flags)
	}
	if err := inFile(t, size); err != nil {
		return nil, fmt.Errorf("lookup table: %w", err)
	}
	if t.StoredSize > MaxBlobTableSize {
		return nil, fmt.Errorf("%w: lookup table of %d bytes, over the %d this reader accepts", ErrMalformed, t.StoredSize, MaxBlobTableSize)
	}
	if t.StoredSize%blobEntrySize != 0 {
		return nil, fmt.Errorf("%w: lookup table of %d bytes is not a whole number of %d-byte entries", ErrMalformed, t.StoredSize, blobEntrySize)
	}
	b := make([]byte, t.StoredSize)
	if _, err := r.ReadAt(b, int64(t.Offset)); err != nil {
		return nil, fmt.Errorf("reading lookup table at offset %d: %w", t.Offset, err)
	}
	entries := make([]BlobEntry, len(b)/blobEntrySize)
	for i := range entries {
		e := b[i*blobEntrySize:]
		entries[i] = BlobEntry{
			Res:        parseResHdr(e),
			PartNumber: binary.LittleEndian.Uint16(e[24:]),
			RefCount:   binary.LittleEndian.Uint32(e[26:]),
		}
		copy(entries[i].Hash[:], e[30:50])
		if err := inFile(entries[i].Res, size); err != nil {
			return nil, fmt.Errorf("lookup table entry %d: %w", i, err)
		}
	}
	return entries, nil
}

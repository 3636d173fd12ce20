package wim

import (
	"encoding/binary"
	"fmt"
)

// HeaderSize is the size of a WIM header on disk; every WIM this package
// reads or writes has exactly this header size.
const HeaderSize = 208

// Magic opens every (non-pipable) WIM and SWM file.
const Magic = "MSWIM\x00\x00\x00"

// pipableMagic opens wimlib's pipable WIMs, which have a different layout.
const pipableMagic = "WLPWM\x00\x00\x00"

// Version numbers: VersionDefault for WIMs whose resources are compressed
// one by one, VersionSolid for WIMs (ESDs) that may hold solid resources.
const (
	VersionDefault = 0x10d00
	VersionSolid   = 0xe00
)

// Header flags.
const (
	FlagCompression     = 0x00000002
	FlagReadOnly        = 0x00000004
	FlagSpanned         = 0x00000008
	FlagResourceOnly    = 0x00000010
	FlagMetadataOnly    = 0x00000020
	FlagWriteInProgress = 0x00000040
	FlagRPFix           = 0x00000080
	FlagCompressXPRESS  = 0x00020000
	FlagCompressLZX     = 0x00040000
	FlagCompressLZMS    = 0x00080000
	FlagCompressXPRESS2 = 0x00200000
)

// Resource header flags.
const (
	ResFree       = 0x01
	ResMetadata   = 0x02
	ResCompressed = 0x04
	ResSpanned    = 0x08
	ResSolid      = 0x10
)

// ResHdr locates a resource: StoredSize bytes at Offset in the file,
// OrigSize bytes once decompressed.
type ResHdr struct {
	StoredSize uint64 // 56 bits on disk
	Flags      uint8
	Offset     uint64
	OrigSize   uint64
}

// End is the offset just past the resource.
func (r ResHdr) End() uint64 { return r.Offset + r.StoredSize }

const resHdrSize = 24

func parseResHdr(b []byte) ResHdr {
	var size [8]byte
	copy(size[:7], b[:7])
	return ResHdr{
		StoredSize: binary.LittleEndian.Uint64(size[:]),
		Flags:      b[7],
		Offset:     binary.LittleEndian.Uint64(b[8:]),
		OrigSize:   binary.LittleEndian.Uint64(b[16:]),
	}
}

func (r ResHdr) put(b []byte) {
	var size [8]byte
	binary.LittleEndian.PutUint64(size[:], r.StoredSize)
	copy(b[:7], size[:7])
	b[7] = r.Flags
	binary.LittleEndian.PutUint64(b[8:], r.Offset)
	binary.LittleEndian.PutUint64(b[16:], r.OrigSize)
}

// Header is a WIM file's header.
type Header struct {
	Version      uint32
	Flags        uint32
	ChunkSize    uint32
	GUID         [16]byte
	PartNumber   uint16
	TotalParts   uint16
	ImageCount   uint32
	BlobTable    ResHdr // the lookup table
	XML          ResHdr
	BootMetadata ResHdr
	BootIndex    uint32
	Integrity    ResHdr
}

// Compression names the header's compression kind: "none", "xpress",
// "lzx", "lzms" or "xpress2" (the last two as in Microsoft's ESDs).
func (h *Header) Compression() string {
	if h.Flags&FlagCompression == 0 {
		return "none"
	}
	switch {
	case h.Flags&FlagCompressLZMS != 0:
		return "lzms"
	case h.Flags&FlagCompressLZX != 0:
		return "lzx"
	case h.Flags&FlagCompressXPRESS2 != 0:
		return "xpress2"
	case h.Flags&FlagCompressXPRESS != 0:
		return "xpress"
	}
	return "unknown"
}

// Solid says whether the header admits solid resources (an ESD): version
// 0xe00 or LZMS compression. Such a WIM cannot be split.
func (h *Header) Solid() bool {
	return h.Version == VersionSolid || h.Flags&FlagCompressLZMS != 0
}

func parseHeader(b []byte) (*Header, error) {
	switch string(b[:8]) {
	case Magic:
	case pipableMagic:
		return nil, fmt.Errorf("%w: a pipable WIM (wimlib's own layout), not a plain one", ErrNotWIM)
	default:
		return nil, fmt.Errorf("%w: magic %q, want %q", ErrNotWIM, b[:8], Magic)
	}
	if n := binary.LittleEndian.Uint32(b[8:]); n != HeaderSize {
		return nil, fmt.Errorf("%w: header size %d, want %d", ErrMalformed, n, HeaderSize)
	}
	h := &Header{
		Version:      binary.LittleEndian.Uint32(b[12:]),
		Flags:        binary.LittleEndian.Uint32(b[16:]),
		ChunkSize:    binary.LittleEndian.Uint32(b[20:]),
		PartNumber:   binary.LittleEndian.Uint16(b[40:]),
		TotalParts:   binary.LittleEndian.Uint16(b[42:]),
		ImageCount:   binary.LittleEndian.Uint32(b[44:]),
		BlobTable:    parseResHdr(b[48:]),
		XML:          parseResHdr(b[72:]),
		BootMetadata: parseResHdr(b[96:]),
		BootIndex:    binary.LittleEndian.Uint32(b[120:]),
		Integrity:    parseResHdr(b[124:]),
	}
	copy(h.GUID[:], b[24:40])
	if h.TotalParts == 0 || h.PartNumber == 0 || h.PartNumber > h.TotalParts {
		return nil, fmt.Errorf("%w: part %d of %d", ErrMalformed, h.PartNumber, h.TotalParts)
	}
	return h, nil
}

// encode returns the header's 208 bytes.
func (h *Header) encode() []byte {
	b := make([]byte, HeaderSize)
	copy(b, Magic)
	binary.LittleEndian.PutUint32(b[8:], HeaderSize)
	binary.LittleEndian.PutUint32(b[12:], h.Version)
	binary.LittleEndian.PutUint32(b[16:], h.Flags)
	binary.LittleEndian.PutUint32(b[20:], h.ChunkSize)
	copy(b[24:40], h.GUID[:])
	binary.LittleEndian.PutUint16(b[40:], h.PartNumber)
	binary.LittleEndian.PutUint16(b[42:], h.TotalParts)
	binary.LittleEndian.PutUint32(b[44:], h.ImageCount)
	h.BlobTable.put(b[48:])
	h.XML.put(b[72:])
	h.BootMetadata.put(b[96:])
	binary.LittleEndian.PutUint32(b[120:], h.BootIndex)
	h.Integrity.put(b[124:])
	return b
}

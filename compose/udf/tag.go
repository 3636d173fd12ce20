package udf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is matched by every error about the image's structures.
var ErrMalformed = errors.New("malformed UDF image")

// Tag identifiers (ECMA-167 3/7.2.1 and 4/7.2.1).
const (
	tagPrimaryVD     = 1
	tagAnchor        = 2
	tagVDPointer     = 3
	tagPartitionDesc = 5
	tagLogicalVol    = 6
	tagTerminating   = 8
	tagFileSet       = 256
	tagFileID        = 257
	tagAllocExtent   = 258
	tagFileEntry     = 261
	tagExtFileEntry  = 266
)

const tagSize = 16

var le = binary.LittleEndian

// malformed is an ErrMalformed error saying what is wrong and where.
func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// checkTag checks the descriptor tag at the start of b: its identifier,
// its checksum and, where the CRC's length fits in b, its CRC. loc is the
// block the tag must name, or -1 where writers disagree (FIDs). what and
// where go into the error.
func checkTag(b []byte, want uint16, loc int64, what string) error {
	if len(b) < tagSize {
		return malformed("%s: %d bytes, shorter than a descriptor tag", what, len(b))
	}
	id := le.Uint16(b[0:])
	if id != want {
		return malformed("%s: descriptor tag %d, want %d", what, id, want)
	}
	var sum byte
	for i := 0; i < tagSize; i++ {
		if i != 4 {
			sum += b[i]
		}
	}
	if sum != b[4] {
		return malformed("%s: tag checksum %#x, computed %#x", what, b[4], sum)
	}
	if loc >= 0 && int64(le.Uint32(b[12:])) != loc {
		return malformed("%s: tag says block %d, read at block %d", what, le.Uint32(b[12:]), loc)
	}
	n := int(le.Uint16(b[10:]))
	if tagSize+n <= len(b) {
		if c := crc16(b[tagSize : tagSize+n]); c != le.Uint16(b[8:]) {
			return malformed("%s: descriptor CRC %#04x, computed %#04x", what, le.Uint16(b[8:]), c)
		}
	}
	return nil
}

// crcTable is CRC-ITU-T (polynomial 0x1021, MSB first), as ECMA-167 1/7.2.6 uses.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

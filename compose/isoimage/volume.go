package isoimage

import (
	"encoding/binary"
	"fmt"
	"io"
)

// ISO 9660 layout: 16 sectors of system area, then volume descriptors of
// one 2048-byte sector each, ended by a terminator (type 255).
const (
	isoSector      = 2048
	isoFirstVD     = 16 * isoSector
	isoMaxVDs      = 64 // real ISOs carry 2 to 5; the bound stops a scan of junk
	vdPrimary      = 1
	vdSupplement   = 2 // Joliet's
	vdTerminator   = 255
	pvdSpaceSize   = 80  // volume space size in logical blocks, both-endian uint32
	pvdLogicalSize = 128 // logical block size, both-endian uint16
	vdPathTable    = 132 // path table size in bytes, both-endian uint32
	vdRootSize     = 156 + 10
)

// volume is what the primary volume descriptor says about the image.
type volume struct {
	blocks    int64
	blockSize int64
}

// checkVolume reads the volume descriptors itself, before go-diskfs does,
// so that the common non-ISOs get an error that says what they are, and a
// set without a terminator is refused: go-diskfs reads descriptors until
// one ends it, keeping each, as far as the file goes.
func checkVolume(r io.ReaderAt, size int64, name string) (volume, error) {
	if size == 0 {
		return volume{}, fmt.Errorf("%s is empty (0 bytes), not an ISO image", name)
	}
	if size < isoFirstVD+isoSector {
		return volume{}, fmt.Errorf("%s is %d bytes, too small to be an ISO image", name, size)
	}
	vd := make([]byte, isoSector)
	var v *volume
	for i := int64(0); i < isoMaxVDs; i++ {
		if _, err := r.ReadAt(vd, isoFirstVD+i*isoSector); err != nil || string(vd[1:6]) != "CD001" {
			break
		}
		if vd[0] == vdPrimary || vd[0] == vdSupplement {
			if err := checkSizes(vd, name); err != nil {
				return volume{}, err
			}
		}
		switch {
		case vd[0] == vdPrimary && v == nil:
			v = &volume{int64(binary.LittleEndian.Uint32(vd[pvdSpaceSize:])), int64(binary.LittleEndian.Uint16(vd[pvdLogicalSize:]))}
			if v.blockSize < 512 || v.blockSize > isoSector || v.blockSize&(v.blockSize-1) != 0 {
				return volume{}, fmt.Errorf("%s: %w: logical block size %d (ISO 9660 allows 512, 1024 or 2048)", name, ErrMalformedISO, v.blockSize)
			}
		case vd[0] == vdTerminator && v != nil:
			return *v, nil
		case vd[0] == vdTerminator:
			i = isoMaxVDs
		}
	}
	if v == nil {
		return volume{}, fmt.Errorf("%s is not an ISO 9660 image: no primary volume descriptor at offset %d", name, isoFirstVD)
	}
	return volume{}, fmt.Errorf("%s: %w: no volume descriptor set terminator in its first %d descriptors", name, ErrMalformedISO, isoMaxVDs)
}

// checkSizes refuses a volume descriptor whose path table or root
// directory is larger than any one read go-diskfs may make (maxISORead):
// go-diskfs allocates both, as sized here, when it opens the ISO and
// before it reads a byte of them, so a crafted 4 GiB size reached the
// allocator first ("fatal error: out of memory" under a memory limit,
// which no recover catches).
func checkSizes(vd []byte, name string) error {
	what := "primary"
	if vd[0] == vdSupplement {
		what = "supplementary (Joliet)"
	}
	if n := binary.LittleEndian.Uint32(vd[vdPathTable:]); n > maxISORead {
		return fmt.Errorf("%s: %w: its %s volume descriptor gives a path table of %d bytes (more than %d MiB)", name, ErrMalformedISO, what, n, maxISORead>>20)
	}
	if n := binary.LittleEndian.Uint32(vd[vdRootSize:]); n > maxISORead {
		return fmt.Errorf("%s: %w: its %s volume descriptor gives a root directory of %d bytes (more than %d MiB)", name, ErrMalformedISO, what, n, maxISORead>>20)
	}
	return nil
}

// truncated describes a file shorter than the volume it holds, or is "".
// A checksum computed over a truncated download matches it all the same.
func (v volume) truncated(size int64) string {
	need := v.blocks * v.blockSize
	if need <= size {
		return ""
	}
	return fmt.Sprintf("the ISO 9660 volume is %d bytes but the file has only %d: it looks truncated, and files at its end will not be readable", need, size)
}

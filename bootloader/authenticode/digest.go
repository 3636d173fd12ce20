package authenticode

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// peLayout is what signing needs to know about a PE image: where the checksum and the
// security directory entry are (both left out of the digest), the headers' size, the
// sections' file ranges, and where the image ends once an old signature is cut off.
type peLayout struct {
	checksum, certEntry int // file offsets of CheckSum and DataDirectory[4]
	headers             int // SizeOfHeaders
	sections            [][2]int
	end                 int // image size without the old certificate table
}

func parseLayout(b []byte) (peLayout, error) {
	var l peLayout
	if len(b) < 0x40 {
		return l, fmt.Errorf("%w: too short", ErrNotPE)
	}
	peOff := int(binary.LittleEndian.Uint32(b[0x3c:]))
	if peOff+24 > len(b) || string(b[peOff:peOff+4]) != "PE\x00\x00" {
		return l, fmt.Errorf("%w: no PE signature", ErrNotPE)
	}
	nsec := int(binary.LittleEndian.Uint16(b[peOff+6:]))
	optSize := int(binary.LittleEndian.Uint16(b[peOff+20:]))
	opt := peOff + 24
	if opt+optSize > len(b) || optSize < 2 {
		return l, fmt.Errorf("%w: optional header out of range", ErrNotPE)
	}
	var dirs, nrvaOff int
	switch binary.LittleEndian.Uint16(b[opt:]) {
	case 0x10b: // PE32
		dirs, nrvaOff = opt+96, opt+92
	case 0x20b: // PE32+
		dirs, nrvaOff = opt+112, opt+108
	default:
		return l, fmt.Errorf("%w: unknown optional header magic", ErrNotPE)
	}
	if nrvaOff+4 > opt+optSize || binary.LittleEndian.Uint32(b[nrvaOff:]) <= certDirIndex || dirs+8*(certDirIndex+1) > opt+optSize {
		return l, errors.New("PE header has no room for a security directory")
	}
	l.checksum, l.certEntry = opt+64, dirs+8*certDirIndex
	l.headers = int(binary.LittleEndian.Uint32(b[opt+60:]))
	secTable := opt + optSize
	if secTable+40*nsec > len(b) || l.headers > len(b) || l.headers < secTable+40*nsec {
		return l, errors.New("PE section table or SizeOfHeaders out of range")
	}
	for i := 0; i < nsec; i++ {
		s := b[secTable+40*i:]
		size, ptr := int(binary.LittleEndian.Uint32(s[16:])), int(binary.LittleEndian.Uint32(s[20:]))
		if size == 0 {
			continue
		}
		if ptr < l.headers || ptr+size > len(b) {
			return l, fmt.Errorf("PE section %d (file range %#x+%#x) outside the image", i, ptr, size)
		}
		l.sections = append(l.sections, [2]int{ptr, size})
	}
	sort.Slice(l.sections, func(i, j int) bool { return l.sections[i][0] < l.sections[j][0] })
	l.end = len(b)
	va, size := int(binary.LittleEndian.Uint32(b[l.certEntry:])), int(binary.LittleEndian.Uint32(b[l.certEntry+4:]))
	if size != 0 {
		if va+size != len(b) || va < l.lastSectionEnd() {
			return l, errors.New("existing signature table is not at the end of the image")
		}
		l.end = va
	}
	return l, nil
}

func (l peLayout) lastSectionEnd() int {
	end := l.headers
	for _, s := range l.sections {
		end = max(end, s[0]+s[1])
	}
	return end
}

// unsignedImage returns the image without its certificate table, zero-padded to 8 bytes
// (where the new table starts), and its Authenticode SHA-256 digest. The digest follows
// the Authenticode PE specification as shim and sbsigntool compute it: headers without the
// checksum and the security directory entry, sections in file order, then everything after
// the last section up to the certificate table, padding included.
func unsignedImage(b []byte) ([]byte, []byte, peLayout, error) {
	l, err := parseLayout(b)
	if err != nil {
		return nil, nil, l, err
	}
	img := append([]byte(nil), b[:l.end]...)
	for len(img)%8 != 0 {
		img = append(img, 0)
	}
	binary.LittleEndian.PutUint64(img[l.certEntry:], 0) // no table yet
	h := sha256.New()
	h.Write(img[:l.checksum])
	h.Write(img[l.checksum+4 : l.certEntry])
	h.Write(img[l.certEntry+8 : l.headers])
	at := l.headers
	for _, s := range l.sections {
		h.Write(img[s[0] : s[0]+s[1]])
		at = max(at, s[0]+s[1])
	}
	if at < len(img) {
		h.Write(img[at:])
	}
	return img, h.Sum(nil), l, nil
}

// appendSignature adds a WIN_CERTIFICATE holding der at the end of img (8-aligned) and
// points the security directory at it.
func appendSignature(img []byte, l peLayout, der []byte) []byte {
	padded := (len(der) + 7) &^ 7
	start := len(img)
	hdr := make([]byte, 8)
	binary.LittleEndian.PutUint32(hdr, uint32(8+padded))
	binary.LittleEndian.PutUint16(hdr[4:], winCertRevision2)
	binary.LittleEndian.PutUint16(hdr[6:], winCertPKCSSigned)
	out := append(img, hdr...)
	out = append(out, der...)
	out = append(out, make([]byte, padded-len(der))...)
	binary.LittleEndian.PutUint32(out[l.certEntry:], uint32(start))
	binary.LittleEndian.PutUint32(out[l.certEntry+4:], uint32(8+padded))
	return out
}

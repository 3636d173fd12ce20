package udf

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/usbkit/compose/compose/internal/zero"
)

// fid is one file identifier descriptor: a name in a directory.
type fid struct {
	name string
	dir  bool
	icb  longAD
}

// parseDir reads the file identifier descriptors of a directory's bytes;
// the parent entry and deleted names are left out.
func parseDir(data []byte, where string) ([]fid, error) {
	var out []fid
	for pos := 0; pos+38 <= len(data); {
		b := data[pos:]
		if zero.All(b[:tagSize]) {
			break // some writers pad a directory's last block with zeros
		}
		at := fmt.Sprintf("%s, name at byte %d", where, pos)
		lfi, liu := int(b[19]), int(le.Uint16(b[36:]))
		total := (38 + liu + lfi + 3) &^ 3
		if total > len(b) {
			return nil, malformed("%s: runs past the directory's end", at)
		}
		if err := checkTag(b[:total], tagFileID, -1, at); err != nil {
			return nil, err
		}
		pos += total
		chars := b[18]
		if chars&(4|8) != 0 { // deleted, parent
			continue
		}
		name, err := osta(b[38+liu : 38+liu+lfi])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", at, err)
		}
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return nil, malformed("%s: the name %q cannot be a file's", at, name)
		}
		out = append(out, fid{name: name, dir: chars&2 != 0, icb: parseLongAD(b[20:])})
	}
	return out, nil
}

// osta decodes OSTA compressed unicode (UDF 2.1.1): compression ID 8 is
// one byte a character, 16 is UTF-16 big-endian; 254 and 255 (UDF 2.50's
// marks for the same two) read alike.
func osta(b []byte) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	switch b[0] {
	case 8, 254:
		r := make([]rune, len(b)-1)
		for i, c := range b[1:] {
			r[i] = rune(c)
		}
		return string(r), nil
	case 16, 255:
		if len(b)%2 != 1 {
			return "", malformed("a 16-bit name of %d bytes (odd)", len(b)-1)
		}
		u := make([]uint16, (len(b)-1)/2)
		for i := range u {
			u[i] = uint16(b[1+2*i])<<8 | uint16(b[2+2*i])
		}
		return string(utf16.Decode(u)), nil
	}
	return "", malformed("a name with compression ID %d (want 8 or 16)", b[0])
}

// dstring decodes a fixed-length dstring field: its last byte is the
// length used. A malformed one is empty: it is only a label.
func dstring(b []byte) string {
	n := int(b[len(b)-1])
	if n == 0 || n > len(b)-1 {
		return ""
	}
	s, err := osta(b[:n])
	if err != nil {
		return ""
	}
	return strings.TrimRight(s, " \x00")
}

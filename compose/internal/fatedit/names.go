package fatedit

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
)

// lfnOffsets are where a long-name slot keeps its 13 UCS-2 characters.
var lfnOffsets = [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}

// LongName decodes the long-name slots lfn before short entry s, or ""
// when there are none or they belong to another 8.3 name (checksum
// mismatch).
func LongName(lfn, s []byte) string {
	if len(lfn) == 0 {
		return ""
	}
	sum := Checksum(s[:11])
	var u []uint16
	for i := len(lfn) - slot; i >= 0; i -= slot {
		e := lfn[i : i+slot]
		if e[13] != sum {
			return ""
		}
		for _, o := range lfnOffsets {
			c := binary.LittleEndian.Uint16(e[o:])
			if c == 0 {
				return string(utf16.Decode(u))
			}
			u = append(u, c)
		}
	}
	return string(utf16.Decode(u))
}

func shortName(s []byte) string {
	base, ext := strings.TrimRight(string(s[:8]), " "), strings.TrimRight(string(s[8:11]), " ")
	if base != "" && base[0] == 0x05 {
		base = "\xe5" + base[1:]
	}
	if s[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if s[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// Checksum is the 8.3 name's checksum its long-name slots carry.
func Checksum(name []byte) byte {
	var sum byte
	for _, c := range name {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// Alias picks an 8.3 name (padded to 11 bytes) not in taken for a long
// name, and adds it to taken: "CP" and a counter, keeping a valid
// extension of up to three characters. Drivers show the long name; the
// alias only has to be unique and valid. It is the one alias generator:
// compose/disk renames with it the entries go-diskfs names badly.
func Alias(name string, taken map[string]bool) [11]byte {
	ext := ""
	if i := strings.LastIndexByte(name, '.'); i > 0 {
		ext = strings.ToUpper(name[i+1:])
		if len(ext) > 3 || strings.IndexFunc(ext, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) >= 0 {
			ext = ""
		}
	}
	for n := 1; ; n++ {
		var s [11]byte
		copy(s[:], fmt.Sprintf("%-8s%-3s", fmt.Sprintf("CP~%05X", n), ext))
		if !taken[string(s[:])] {
			taken[string(s[:])] = true
			return s
		}
	}
}

// makeSlots builds the long-name slots and 8.3 entry for a new name.
func makeSlots(name string, short [11]byte, dir bool, t time.Time) []byte {
	u := utf16.Encode([]rune(name))
	n := (len(u) + 12) / 13
	out := make([]byte, (n+1)*slot)
	sum := Checksum(short[:])
	for i := 0; i < n; i++ { // slot i holds characters 13i..13i+12
		e := out[(n-1-i)*slot:]
		e[0] = byte(i + 1)
		if i == n-1 {
			e[0] |= 0x40
		}
		e[11], e[13] = 0x0F, sum
		for j, o := range lfnOffsets {
			k := 13*i + j
			c := uint16(0xFFFF)
			if k < len(u) {
				c = u[k]
			} else if k == len(u) {
				c = 0
			}
			binary.LittleEndian.PutUint16(e[o:], c)
		}
	}
	s := out[n*slot:]
	copy(s, short[:])
	s[11] = 0x20
	if dir {
		s[11] = 0x10
	}
	Stamp(s, t)
	return out
}

// Stamp sets the creation, access and modification times of 8.3 entry s
// to t (FAT keeps local time; compose writes UTC).
func Stamp(s []byte, t time.Time) {
	t = t.UTC()
	d := uint16((t.Year()-1980)<<9 | int(t.Month())<<5 | t.Day())
	tm := uint16(t.Hour()<<11 | t.Minute()<<5 | t.Second()/2)
	le := binary.LittleEndian
	le.PutUint16(s[14:], tm)
	le.PutUint16(s[16:], d)
	le.PutUint16(s[18:], d)
	le.PutUint16(s[22:], tm)
	le.PutUint16(s[24:], d)
}

// setEntry points 8.3 entry s at first cluster and size.
func setEntry(s []byte, first uint32, size int64) {
	le := binary.LittleEndian
	le.PutUint16(s[20:], uint16(first>>16))
	le.PutUint16(s[26:], uint16(first))
	le.PutUint32(s[28:], uint32(size))
}

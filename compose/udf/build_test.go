package udf

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
)

// No Debian tool writes a UDF 2.50+ metadata partition (mkudffs 2.3 gives
// 2.50 and 2.60 only to BD-R, with a VAT; the kernel here has no UDF
// driver to fill one). synth writes one by ECMA-167 and UDF 2.60 itself,
// with what real writers do and the tools above do not exercise: the
// metadata file in two extents out of order (so metadata blocks are not
// where a physical reading would look), its mirror, an allocation extent
// descriptor continuing a file's descriptors, an unrecorded extent, a
// partial last block, data embedded in an entry, a directory embedded in
// its entry, a plain file entry with short descriptors inside the
// metadata partition, and a 16-bit name.
type synth struct {
	bs  int
	img []byte
}

// Synthetic layout: the physical partition starts at block partStart; in
// it, the metadata file's entry is at 0 and its mirror's at 1; metadata
// blocks 0–3 lie at physical 20–23 and 4–7 at 10–13 (the mirror's copy of
// all eight at 30–37); file data at 40–42, an allocation extent at 50, the
// last data block at 60.
const (
	partStart = 300
	partLen   = 64
	synthRev  = 0x0260
)

// synthFiles are the synthetic image's files and their bytes.
func synthFiles(bs int) map[string][]byte {
	big := make([]byte, 6*bs+100)
	for i := range big {
		big[i] = byte(i*31 + i>>11)
	}
	clear(big[3*bs : 5*bs]) // the unrecorded extent
	return map[string][]byte{
		"embedded.txt": []byte("held in its entry"),
		"名前.txt":       []byte("held in its entry"),
		"big.bin":      big,
		"sub/deep.txt": []byte("deep data!"),
	}
}

func buildSynth(bs int) []byte {
	s := &synth{bs: bs, img: make([]byte, (partStart+partLen+1)*bs)}
	s.volume()
	big := synthFiles(bs)["big.bin"]
	meta := make([][]byte, 8)
	meta[0] = s.fsd()
	rootFIDs := cat(fidBytes(8, "", 1, 1), fidBytes(0, "embedded.txt", 1, 3), fidBytes(0, "名前.txt", 1, 3),
		fidBytes(0, "big.bin", 1, 4), fidBytes(2, "sub", 1, 5))
	meta[1] = s.entry(true, 4, 0, int64(len(rootFIDs)), shortAD(len(rootFIDs), 2, 0), 1)
	meta[2] = rootFIDs
	meta[3] = s.entry(true, 5, 3, 17, []byte("held in its entry"), 3)
	meta[4] = s.entry(true, 5, 1, int64(len(big)), cat(longAD4(3*bs, 40, 0, 0), longAD4(bs, 50, 0, 3)), 4)
	subFIDs := cat(fidBytes(8, "", 1, 1), fidBytes(0, "deep.txt", 1, 6))
	meta[5] = s.entry(true, 4, 3, int64(len(subFIDs)), subFIDs, 5)
	meta[6] = s.entry(false, 5, 0, 10, shortAD(10, 7, 0), 6)
	meta[7] = []byte("deep data!")
	for i, b := range meta {
		phys := 20 + i
		if i >= 4 {
			phys = 10 + i - 4
		}
		s.put(partStart+phys, b)
		s.put(partStart+30+i, b)
	}
	metaADs := cat(shortAD(4*bs, 20, 0), shortAD(4*bs, 10, 0))
	s.put(partStart, s.entry(true, 250, 0, int64(8*bs), metaADs, 0))
	s.put(partStart+1, s.entry(true, 251, 0, int64(8*bs), shortAD(8*bs, 30, 0), 1))
	for i := 0; i < 3; i++ {
		s.put(partStart+40+i, big[i*bs:(i+1)*bs])
	}
	aedADs := cat(longAD4(2*bs, 0, 0, 1), longAD4(bs+100, 60, 0, 0))
	aed := make([]byte, 24+len(aedADs))
	le.PutUint32(aed[20:], uint32(len(aedADs)))
	copy(aed[24:], aedADs)
	s.put(partStart+50, tag(aed, tagAllocExtent, 50))
	s.put(partStart+60, big[5*bs:])
	return s.img
}

func (s *synth) put(blk int, b []byte) { copy(s.img[blk*s.bs:], b) }

// volume writes the recognition sequence, anchors and both sequences.
func (s *synth) volume() {
	for i, id := range []string{"BEA01", "NSR03", "TEA01"} { // 2048-byte descriptors from byte 32768
		copy(s.img[32768+i*2048:], append([]byte{0}, id...))
	}
	for _, at := range []int{32, 48} {
		pvd := make([]byte, 512)
		copy(pvd[24:], dstr("SYNTH", 32))
		s.put(at, tag(pvd, tagPrimaryVD, at))
		pd := make([]byte, 512)
		le.PutUint16(pd[20:], 1)
		copy(pd[25:], "+NSR03")
		le.PutUint32(pd[184:], 1)
		le.PutUint32(pd[188:], partStart)
		le.PutUint32(pd[192:], partLen)
		s.put(at+1, tag(pd, tagPartitionDesc, at+1))
		s.put(at+2, tag(s.lvd(), tagLogicalVol, at+2))
		s.put(at+3, tag(make([]byte, 512), tagTerminating, at+3))
	}
	last := len(s.img)/s.bs - 1
	for _, at := range []int{256, last} {
		a := make([]byte, 512)
		le.PutUint32(a[16:], uint32(4*s.bs))
		le.PutUint32(a[20:], 32)
		le.PutUint32(a[24:], uint32(4*s.bs))
		le.PutUint32(a[28:], 48)
		s.put(at, tag(a, tagAnchor, at))
	}
}

func (s *synth) lvd() []byte {
	b := make([]byte, 440+6+64)
	copy(b[20:], charspec())
	copy(b[84:], dstr("SYNTH LV", 128))
	le.PutUint32(b[212:], uint32(s.bs))
	copy(b[217:], "*OSTA UDF Compliant")
	le.PutUint16(b[240:], synthRev)
	copy(b[248:], longAD4(s.bs, 0, 1, 0)) // the file set descriptor: metadata block 0
	le.PutUint32(b[264:], 6+64)
	le.PutUint32(b[268:], 2)
	copy(b[440:], []byte{1, 6, 1, 0, 0, 0})
	m := b[446:]
	m[0], m[1] = 2, 64
	copy(m[5:], "*UDF Metadata Partition")
	le.PutUint16(m[36:], 1)
	le.PutUint32(m[40:], 0)
	le.PutUint32(m[44:], 1)
	le.PutUint32(m[48:], 0xFFFFFFFF)
	le.PutUint32(m[52:], 32)
	le.PutUint16(m[56:], 1)
	return b
}

func (s *synth) fsd() []byte {
	b := make([]byte, 512)
	le.PutUint16(b[28:], 3)
	le.PutUint16(b[30:], 3)
	le.PutUint32(b[32:], 1)
	le.PutUint32(b[36:], 1)
	copy(b[48:], charspec())
	copy(b[112:], dstr("SYNTH LV", 128))
	copy(b[240:], charspec())
	copy(b[304:], dstr("SYNTH FS", 32))
	copy(b[400:], longAD4(s.bs, 1, 1, 0))
	copy(b[417:], "*OSTA UDF Compliant")
	le.PutUint16(b[440:], synthRev)
	return tag(b, tagFileSet, 0)
}

// entry is an extended (ext) or plain file entry of file type typ with
// allocation descriptor kind flags, size bytes and descriptors (or
// embedded data) ads, at block loc of its partition.
func (s *synth) entry(ext bool, typ byte, flags uint16, size int64, ads []byte, loc int) []byte {
	base, eaAt, timeAt, id := 176, 168, 84, uint16(tagFileEntry)
	if ext {
		base, eaAt, timeAt, id = 216, 208, 92, tagExtFileEntry
	}
	b := make([]byte, base+len(ads))
	le.PutUint16(b[20:], 4)
	le.PutUint16(b[24:], 1)
	b[27] = typ
	le.PutUint16(b[34:], flags)
	le.PutUint64(b[56:], uint64(size))
	ts := b[timeAt:]
	le.PutUint16(ts, 1<<12|60) // UTC+1
	le.PutUint16(ts[2:], 2026)
	ts[4], ts[5], ts[6], ts[7], ts[8] = 12, 8, 1, 2, 3
	le.PutUint32(b[eaAt+4:], uint32(len(ads)))
	copy(b[base:], ads)
	return tag(b, id, loc)
}

// tag fills b's descriptor tag: identifier, version 3, checksum, CRC of
// the rest, location.
func tag(b []byte, id uint16, loc int) []byte {
	le.PutUint16(b, id)
	le.PutUint16(b[2:], 3)
	le.PutUint16(b[10:], uint16(len(b)-tagSize))
	le.PutUint16(b[8:], crc16(b[tagSize:]))
	le.PutUint32(b[12:], uint32(loc))
	var sum byte
	for i := 0; i < tagSize; i++ {
		if i != 4 {
			sum += b[i]
		}
	}
	b[4] = sum
	return b
}

// fidBytes is a file identifier descriptor for name (parent when name is "")
// pointing at block lbn of partition ref.
func fidBytes(chars byte, name string, ref uint16, lbn uint32) []byte {
	n := ostaBytes(name)
	total := (38 + len(n) + 3) &^ 3
	b := make([]byte, total)
	le.PutUint16(b[16:], 1)
	b[18], b[19] = chars, byte(len(n))
	copy(b[20:], longAD4(2048, int(lbn), ref, 0))
	copy(b[38:], n)
	return tag(b, tagFileID, 0)
}

// ostaBytes encodes name as OSTA compressed unicode: 8 bits when every
// character fits, else 16.
func ostaBytes(name string) []byte {
	if name == "" {
		return nil
	}
	wide := false
	for _, r := range name {
		wide = wide || r > 0xFF
	}
	if !wide {
		out := []byte{8}
		for _, r := range name {
			out = append(out, byte(r))
		}
		return out
	}
	out := []byte{16}
	for _, u := range utf16.Encode([]rune(name)) {
		out = binary.BigEndian.AppendUint16(out, u)
	}
	return out
}

// charspec is OSTA CS0, the character set every UDF string is in.
func charspec() []byte { return append([]byte{0}, "OSTA Compressed Unicode"...) }

func dstr(s string, n int) []byte {
	b := make([]byte, n)
	copy(b, ostaBytes(s))
	b[n-1] = byte(len(ostaBytes(s)))
	return b
}

func shortAD(n, lbn int, kind uint32) []byte {
	b := make([]byte, 8)
	le.PutUint32(b, uint32(n)|kind<<30)
	le.PutUint32(b[4:], uint32(lbn))
	return b
}

func longAD4(n, lbn int, ref uint16, kind uint32) []byte {
	b := make([]byte, 16)
	le.PutUint32(b, uint32(n)|kind<<30)
	le.PutUint32(b[4:], uint32(lbn))
	le.PutUint16(b[8:], ref)
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

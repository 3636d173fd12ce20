package udf

import (
	"fmt"
	"io"
	"sort"
	"time"
)

// File types of an ICB tag (ECMA-167 4/14.6.6).
const (
	typeDir     = 4
	typeFile    = 5
	typeSymlink = 12
	typeRealTm  = 249 // a real-time file: read as a regular one
)

// run is a piece of a file: n bytes at file position pos, at image offset
// off, or zeros when off < 0 (an extent allocated but not recorded, or not
// allocated at all: a sparse file).
type run struct{ pos, off, n int64 }

// extents are a file's runs in file order, covering size bytes.
type extents struct {
	runs []run
	size int64
}

// find is the run holding file position pos.
func (e *extents) find(pos int64) (run, bool) {
	i := sort.Search(len(e.runs), func(i int) bool { return e.runs[i].pos+e.runs[i].n > pos })
	if i == len(e.runs) || pos < 0 {
		return run{}, false
	}
	return e.runs[i], true
}

// entry is a file entry or extended file entry.
type entry struct {
	typ      byte
	size     int64
	mtime    time.Time
	embedded []byte // data held in the entry itself (flags 3), else nil
	ext      extents
}

// readEntry reads the (extended) file entry at block lbn of p.
func (f *FS) readEntry(p *partition, lbn uint32) (*entry, error) {
	where := fmt.Sprintf("file entry at block %d", lbn)
	b, err := f.readBlock(p, lbn)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	id := le.Uint16(b)
	base, eaAt, timeAt := int64(176), 168, 84
	if id == tagExtFileEntry {
		base, eaAt, timeAt = 216, 208, 92
	} else if id != tagFileEntry {
		return nil, malformed("%s: descriptor tag %d is not a file entry", where, id)
	}
	if err := checkTag(b, id, int64(lbn), where); err != nil {
		return nil, err
	}
	if s := le.Uint16(b[20:]); s != 4 {
		return nil, malformed("%s: ICB strategy %d (only 4 is supported)", where, s)
	}
	e := &entry{typ: b[27], mtime: timestamp(b[timeAt:])}
	size := le.Uint64(b[56:])
	if size > 1<<50 {
		return nil, malformed("%s: claims %d bytes", where, size)
	}
	e.size = int64(size)
	lea, lad := int64(le.Uint32(b[eaAt:])), int64(le.Uint32(b[eaAt+4:]))
	if lea > f.bs || lad > f.bs || base+lea+lad > f.bs {
		return nil, malformed("%s: %d bytes of extended attributes and %d of allocation descriptors do not fit its %d-byte block", where, lea, lad, f.bs)
	}
	ads := b[base+lea : base+lea+lad]
	flags := le.Uint16(b[34:]) & 7
	if flags == 3 {
		if e.size > lad {
			return nil, malformed("%s: %d bytes embedded in %d", where, e.size, lad)
		}
		e.embedded = ads[:e.size]
		return e, nil
	}
	if err := f.allocation(e, p, ads, flags); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return e, nil
}

// allocation reads the allocation descriptors ads of type flags (0 short,
// 1 long, 2 extended) into e's runs, following continuation extents.
func (f *FS) allocation(e *entry, p *partition, ads []byte, flags uint16) error {
	adSize := map[uint16]int{0: 8, 1: 16, 2: 20}[flags]
	if adSize == 0 {
		return malformed("allocation descriptor type %d", flags)
	}
	var pos int64
	chain := 0
	for len(ads) >= adSize {
		ad := ads[:adSize]
		ads = ads[adSize:]
		n, kind := int64(le.Uint32(ad)&0x3FFFFFFF), le.Uint32(ad)>>30
		if n == 0 {
			break // ECMA-167 4/12: a zero length ends the descriptors
		}
		lbn, dp := le.Uint32(ad[4:]), p
		switch flags {
		case 1:
			var err error
			if dp, err = f.part(le.Uint16(ad[8:])); err != nil {
				return err
			}
		case 2:
			lbn = le.Uint32(ad[12:])
			var err error
			if dp, err = f.part(le.Uint16(ad[16:])); err != nil {
				return err
			}
		}
		if kind == 3 {
			if chain++; chain > maxChain {
				return malformed("more than %d allocation extents", maxChain)
			}
			next, err := f.allocExtent(dp, lbn)
			if err != nil {
				return err
			}
			ads = next
			continue
		}
		if err := f.addRuns(&e.ext, dp, lbn, pos, n, kind == 0); err != nil {
			return err
		}
		pos += n
	}
	if pos < e.size {
		return malformed("its extents hold %d bytes, it claims %d", pos, e.size)
	}
	e.ext.size = e.size
	return nil
}

// allocExtent reads the allocation extent descriptor at block lbn of p and
// returns the descriptors it holds.
func (f *FS) allocExtent(p *partition, lbn uint32) ([]byte, error) {
	b, err := f.readBlock(p, lbn)
	if err != nil {
		return nil, fmt.Errorf("allocation extent: %w", err)
	}
	if err := checkTag(b, tagAllocExtent, int64(lbn), fmt.Sprintf("allocation extent at block %d", lbn)); err != nil {
		return nil, err
	}
	n := int64(le.Uint32(b[20:]))
	if n > f.bs-24 {
		return nil, malformed("allocation extent at block %d: %d bytes of descriptors in a %d-byte block", lbn, n, f.bs)
	}
	return b[24 : 24+n], nil
}

// addRuns appends the extent of n bytes at block lbn of p, at file position
// pos, split where it is not contiguous in the image (a metadata partition).
func (f *FS) addRuns(x *extents, p *partition, lbn uint32, pos, n int64, recorded bool) error {
	for done := int64(0); done < n; {
		if len(x.runs) >= maxExtents {
			return malformed("more than %d extents", maxExtents)
		}
		if !recorded {
			x.runs = append(x.runs, run{pos: pos, off: -1, n: n})
			return nil
		}
		blk := int64(lbn) + done/f.bs
		if blk > 0xFFFFFFFF {
			return malformed("an extent runs past block 2^32")
		}
		off, contig, err := f.phys(p, uint32(blk))
		if err != nil {
			return err
		}
		take := min(contig, n-done)
		if take <= 0 {
			return malformed("an extent at block %d is not contiguous", blk)
		}
		x.runs = append(x.runs, run{pos: pos + done, off: off, n: take})
		done += take
	}
	return nil
}

// readAt reads file bytes at pos from x: zeros for unrecorded runs.
func (f *FS) readAt(x *extents, b []byte, pos int64) (int, error) {
	if pos >= x.size {
		return 0, io.EOF
	}
	n := 0
	for n < len(b) && pos < x.size {
		if err := f.ctx.Err(); err != nil {
			return n, err
		}
		r, ok := x.find(pos)
		if !ok {
			return n, malformed("no extent holds byte %d", pos)
		}
		want := min(int64(len(b)-n), r.pos+r.n-pos, x.size-pos)
		chunk := b[n : n+int(want)]
		if r.off < 0 {
			clear(chunk)
		} else {
			at := r.off + pos - r.pos
			if at+want > f.size {
				return n, malformed("byte %d of a file lies past the image's end", pos)
			}
			if _, err := f.r.ReadAt(chunk, at); err != nil {
				return n, err
			}
		}
		n += int(want)
		pos += want
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// timestamp decodes an ECMA-167 timestamp (1/7.3); the zone is kept when
// one is given.
func timestamp(b []byte) time.Time {
	tz := int16(le.Uint16(b)<<4) >> 4 // 12-bit signed minutes
	loc := time.UTC
	if le.Uint16(b)>>12 == 1 && tz != -2047 && tz >= -1440 && tz <= 1440 {
		loc = time.FixedZone("", int(tz)*60)
	}
	ns := int(b[9])*10_000_000 + int(b[10])*100_000 + int(b[11])*1000
	return time.Date(int(int16(le.Uint16(b[2:]))), time.Month(b[4]), int(b[5]), int(b[6]), int(b[7]), int(b[8]), ns, loc)
}

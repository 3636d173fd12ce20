package udf

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Bounds on what an image may make the reader do.
const (
	maxStruct      = 32 << 20 // one read of metadata: a directory, a partition's metadata file
	maxDir         = 32 << 20 // a directory's bytes
	maxExtents     = 1 << 16  // allocation descriptors of one file (6 GiB in 1 GiB extents is 6)
	maxChain       = 4096     // continuation extents of one file
	maxVDSBlocks   = 512      // volume descriptor blocks read, pointers followed included
	maxVDPtrs      = 16       // volume descriptor pointers followed
	maxCachedDirs  = 1024     // directories whose names are kept (a Windows ISO has ~100)
	maxCachedNames = 1 << 18  // names kept, all those directories together
)

// blockSizes are tried in this order: 2048 is every optical image.
var blockSizes = []int64{2048, 512, 1024, 4096}

// FS is an opened UDF file system. It is an fs.FS, fs.ReadDirFS and
// fs.StatFS; names are as fs.ValidPath wants them and case-sensitive.
type FS struct {
	r     io.ReaderAt
	size  int64
	ctx   context.Context
	bs    int64
	parts []*partition // by partition reference number (the logical volume's map index)
	root  longAD

	mu     sync.Mutex
	dirs   map[int64][]fid // names of directories read, by extent
	cached int             // names in dirs

	// Label is the logical volume identifier (the volume label Windows
	// shows), or the primary volume descriptor's when that is empty.
	Label string
	// Revision is the UDF revision the logical volume's domain claims,
	// as UDF writes it: 0x0102, 0x0201, 0x0250, 0x0260.
	Revision uint16
}

// BlockSize is the logical block size: 2048 on every optical image.
func (f *FS) BlockSize() int64 { return f.bs }

// longAD is a long allocation descriptor: an extent in a partition.
type longAD struct {
	length uint32
	lbn    uint32
	ref    uint16
}

func parseLongAD(b []byte) longAD {
	return longAD{length: le.Uint32(b), lbn: le.Uint32(b[4:]), ref: le.Uint16(b[8:])}
}

// Open reads the UDF file system of the image r of size bytes. ctx
// cancels any later read too (the FS keeps it).
func Open(ctx context.Context, r io.ReaderAt, size int64) (*FS, error) {
	f := &FS{r: r, size: size, ctx: ctx, dirs: map[int64][]fid{}}
	avdp, err := f.findAnchor()
	if err != nil {
		return nil, err
	}
	var vds volumeSet
	for i, at := range []int{16, 24} { // main, then reserve sequence
		vds, err = f.readVDS(int64(le.Uint32(avdp[at+4:])), int64(le.Uint32(avdp[at:])))
		if err == nil {
			break
		}
		if i == 1 {
			return nil, err
		}
	}
	fsd, err := f.loadVolume(vds)
	if err != nil {
		return nil, err
	}
	if err := f.loadFileSet(fsd); err != nil {
		return nil, err
	}
	return f, nil
}

// read reads n bytes at off, bounded and cancellable.
func (f *FS) read(off, n int64) ([]byte, error) {
	if err := f.ctx.Err(); err != nil {
		return nil, err
	}
	if n < 0 || n > maxStruct {
		return nil, malformed("a structure of %d bytes at offset %d (more than %d MiB)", n, off, maxStruct>>20)
	}
	if off < 0 || off > f.size || n > f.size-off {
		return nil, malformed("%d bytes at offset %d run past the image's end (%d bytes)", n, off, f.size)
	}
	b := make([]byte, n)
	if _, err := f.r.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("reading %d bytes at offset %d: %w", n, off, err)
	}
	return b, nil
}

// findAnchor finds an anchor volume descriptor pointer, and with it the
// block size.
func (f *FS) findAnchor() ([]byte, error) {
	for _, bs := range blockSizes {
		last := f.size/bs - 1
		for _, blk := range []int64{256, last, last - 256} {
			if blk < 256 || (blk+1)*bs > f.size {
				continue
			}
			b, err := f.read(blk*bs, bs)
			if err != nil {
				return nil, err
			}
			if checkTag(b, tagAnchor, blk, "anchor") == nil {
				f.bs = bs
				return b, nil
			}
		}
	}
	return nil, malformed("no anchor volume descriptor pointer at block 256, the last block or the last block - 256 (block sizes 512 to 4096 tried): not a UDF image")
}

// volumeSet is what the volume descriptor sequence says.
type volumeSet struct {
	pvdLabel string
	lvd      []byte
	parts    map[uint16][]byte // partition descriptors by partition number
	seqs     map[string]uint32 // sequence numbers of the descriptors kept
}

// readVDS reads the volume descriptor sequence at block loc, n bytes long,
// following volume descriptor pointers.
func (f *FS) readVDS(loc, n int64) (volumeSet, error) {
	vs := volumeSet{parts: map[uint16][]byte{}, seqs: map[string]uint32{}}
	seen, ptrs := 0, 0
	for blk := loc; blk < loc+n/f.bs; blk++ {
		if seen++; seen > maxVDSBlocks {
			return vs, malformed("volume descriptor sequence: more than %d blocks", maxVDSBlocks)
		}
		b, err := f.read(blk*f.bs, f.bs)
		if err != nil {
			return vs, fmt.Errorf("volume descriptor sequence: %w", err)
		}
		id := le.Uint16(b)
		if id == 0 || id == tagTerminating {
			break
		}
		if err := checkTag(b, id, blk, fmt.Sprintf("volume descriptor at block %d", blk)); err != nil {
			return vs, err
		}
		if id == tagVDPointer {
			if ptrs++; ptrs > maxVDPtrs {
				return vs, malformed("volume descriptor sequence: more than %d pointers", maxVDPtrs)
			}
			loc, n = int64(le.Uint32(b[24:])), int64(le.Uint32(b[20:]))
			blk = loc - 1
			continue
		}
		vs.keep(id, b)
	}
	if vs.lvd == nil || len(vs.parts) == 0 {
		return vs, malformed("volume descriptor sequence at block %d has no logical volume or no partition descriptor", loc)
	}
	return vs, nil
}

// keep records descriptor b (tag id) unless a copy with a higher volume
// descriptor sequence number came first (ECMA-167 3/8.4.3: it wins).
func (vs *volumeSet) keep(id uint16, b []byte) {
	key, seq := fmt.Sprint(id), le.Uint32(b[16:])
	if id == tagPartitionDesc {
		key += "/" + fmt.Sprint(le.Uint16(b[22:]))
	}
	if old, ok := vs.seqs[key]; ok && seq < old {
		return
	}
	vs.seqs[key] = seq
	switch id {
	case tagPrimaryVD:
		vs.pvdLabel = dstring(b[24:56])
	case tagPartitionDesc:
		vs.parts[le.Uint16(b[22:])] = b
	case tagLogicalVol:
		vs.lvd = b
	}
}

// partition maps a partition's logical blocks to bytes of the image.
type partition struct {
	start, length int64 // in blocks, for a physical partition
	meta          *extents
}

// loadVolume reads the logical volume descriptor: block size, label,
// revision, partition maps, where the file set descriptor is.
func (f *FS) loadVolume(vs volumeSet) (longAD, error) {
	lvd := vs.lvd
	if bs := int64(le.Uint32(lvd[212:])); bs != f.bs {
		return longAD{}, malformed("logical volume: block size %d, but the anchor is in %d-byte blocks", bs, f.bs)
	}
	f.Label = dstring(lvd[84:212])
	if f.Label == "" {
		f.Label = vs.pvdLabel
	}
	if strings.HasPrefix(string(lvd[217:240]), "*OSTA UDF Compliant") {
		f.Revision = le.Uint16(lvd[240:])
	}
	count, tlen := le.Uint32(lvd[268:]), int64(le.Uint32(lvd[264:]))
	if tlen > f.bs-440 || count > 64 {
		return longAD{}, malformed("logical volume: %d partition maps in %d bytes do not fit its block", count, tlen)
	}
	maps := lvd[440 : 440+tlen]
	var metas []func() error
	for i := range count {
		if len(maps) < 2 || int(maps[1]) < 2 || int(maps[1]) > len(maps) {
			return longAD{}, malformed("logical volume: partition map %d runs past the map table", i)
		}
		m := maps[:maps[1]]
		maps = maps[maps[1]:]
		p, load, err := f.partitionMap(i, m, vs.parts)
		if err != nil {
			return longAD{}, err
		}
		f.parts = append(f.parts, p)
		if load != nil {
			metas = append(metas, load)
		}
	}
	for _, load := range metas {
		if err := load(); err != nil {
			return longAD{}, err
		}
	}
	return parseLongAD(lvd[248:]), nil
}

// partitionMap reads one partition map; a metadata partition's file is
// loaded by the returned func once every map is known.
func (f *FS) partitionMap(i uint32, m []byte, pds map[uint16][]byte) (*partition, func() error, error) {
	physical := func(num uint16) (*partition, error) {
		pd, ok := pds[num]
		if !ok {
			return nil, malformed("partition map %d names partition %d, which no partition descriptor describes", i, num)
		}
		return &partition{start: int64(le.Uint32(pd[188:])), length: int64(le.Uint32(pd[192:]))}, nil
	}
	switch {
	case m[0] == 1 && len(m) >= 6:
		p, err := physical(le.Uint16(m[4:]))
		return p, nil, err
	case m[0] == 2 && len(m) >= 64:
		ident := string(bytes.TrimRight(m[5:28], "\x00"))
		if ident != "*UDF Metadata Partition" {
			return nil, nil, malformed("partition map %d: %q partitions are not supported (no installer ISO has one)", i, ident)
		}
		base, err := physical(le.Uint16(m[38:]))
		if err != nil {
			return nil, nil, err
		}
		p := &partition{}
		main, mirror := le.Uint32(m[40:]), le.Uint32(m[44:])
		return p, func() error { return f.loadMetadata(p, base, main, mirror) }, nil
	}
	return nil, nil, malformed("partition map %d: type %d, length %d", i, m[0], len(m))
}

// loadMetadata reads a metadata partition's file, or its mirror when the
// main one cannot be read.
func (f *FS) loadMetadata(p, base *partition, main, mirror uint32) error {
	e, err := f.readEntry(base, main)
	if err != nil {
		var merr error
		if e, merr = f.readEntry(base, mirror); merr != nil {
			return fmt.Errorf("metadata partition file at block %d: %w (its mirror: %v)", main, err, merr)
		}
	}
	if e.embedded != nil {
		return malformed("metadata partition file at block %d holds its data in its entry", main)
	}
	p.meta = &e.ext
	return nil
}

// loadFileSet reads the file set descriptor and, from it, the root.
func (f *FS) loadFileSet(fsd longAD) error {
	p, err := f.part(fsd.ref)
	if err != nil {
		return fmt.Errorf("file set descriptor: %w", err)
	}
	b, err := f.readBlock(p, fsd.lbn)
	if err != nil {
		return fmt.Errorf("file set descriptor: %w", err)
	}
	if err := checkTag(b, tagFileSet, int64(fsd.lbn), fmt.Sprintf("file set descriptor at block %d", fsd.lbn)); err != nil {
		return err
	}
	f.root = parseLongAD(b[400:])
	return nil
}

func (f *FS) part(ref uint16) (*partition, error) {
	if int(ref) >= len(f.parts) {
		return nil, malformed("partition reference %d, but the volume has %d partitions", ref, len(f.parts))
	}
	return f.parts[ref], nil
}

// phys is the image offset of logical block lbn of p and how many bytes
// from there are contiguous in the image.
func (f *FS) phys(p *partition, lbn uint32) (int64, int64, error) {
	if p.meta != nil {
		pos := int64(lbn) * f.bs
		r, ok := p.meta.find(pos)
		if !ok || r.off < 0 {
			return 0, 0, malformed("block %d of the metadata partition is not recorded in its file (%d bytes)", lbn, p.meta.size)
		}
		return r.off + pos - r.pos, r.pos + r.n - pos, nil
	}
	if int64(lbn) >= p.length {
		return 0, 0, malformed("block %d is outside its partition (%d blocks)", lbn, p.length)
	}
	return (p.start + int64(lbn)) * f.bs, (p.length - int64(lbn)) * f.bs, nil
}

func (f *FS) readBlock(p *partition, lbn uint32) ([]byte, error) {
	off, _, err := f.phys(p, lbn)
	if err != nil {
		return nil, err
	}
	return f.read(off, f.bs)
}

// Present says whether r has a UDF volume recognition sequence: an NSR02
// or NSR03 descriptor among the extended area's 2048-byte descriptors from
// byte 32768 (ECMA-167 2/8.3), as every UDF ISO and bridge image has.
func Present(r io.ReaderAt, size int64) bool {
	b := make([]byte, 2048)
	for off := int64(32768); off+2048 <= size && off < 32768+64*2048; off += 2048 {
		if _, err := r.ReadAt(b, off); err != nil {
			return false
		}
		switch string(b[1:6]) {
		case "NSR02", "NSR03":
			return true
		case "BEA01", "CD001", "CDW02", "BOOT2", "TEA01":
		default:
			return false
		}
	}
	return false
}

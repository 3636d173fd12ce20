package disk

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/google/uuid"
	"github.com/usbkit/compose/compose/internal/ext4edit"
)

// ext4Features: no journal from go-diskfs (its UUID would be random, and it
// is sized for a busy root file system; addJournal adds compose's own), no
// resize inode (go-diskfs v1.9.4 writes one
// e2fsck calls invalid), no metadata_csum (so fixExt4 can patch timestamps
// without recomputing checksums; GRUB and Linux read it either way).
var ext4Features = []ext4.FeatureOpt{
	ext4.WithFeatureHasJournal(false),
	ext4.WithFeatureReservedGDTBlocksForExpansion(false),
	ext4.WithFeatureMetadataChecksums(false),
}

func (b *builder) fillExt4(p *Partition) error {
	if p.keep {
		return b.copyKept(p)
	}
	u := uuid.MustParse(seedGUID(b.l.seed, ext4Purpose(p, "ext4 uuid")))
	fs, err := ext4.Create(b.be, p.Size, p.Offset, sectorSize, &ext4.Params{UUID: &u, VolumeName: p.Label, Features: ext4Features})
	if err != nil {
		return fmt.Errorf("creating ext4: %w", err)
	}
	if err := b.checkExt4Room(p); err != nil {
		return err
	}
	for _, f := range p.Files {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if err := b.placeExt4(fs, p, f); err != nil {
			return err
		}
	}
	for _, d := range p.dirs {
		if err := fs.Mkdir(extPath(d)); err != nil {
			return fmt.Errorf("creating %s: %w", d, err)
		}
	}
	if err := fixExt4(b.f, p.Offset, b.l.Time, seedBytes(b.l.seed, ext4Purpose(p, "ext4 hash seed"))); err != nil {
		return err
	}
	return b.addJournal(p)
}

// ext4Purpose names what a seed derivation is for: the data partition's
// as before persistence existed (equal kits give equal images), a
// persistence partition's by its label.
func ext4Purpose(p *Partition, what string) string {
	if p.Persistence == "" {
		return what
	}
	return what + " persistence " + p.Label
}

// addJournal gives the volume the jbd2 journal through which compose
// changes it in place later (Spec.Journal). It comes after
// the files: go-diskfs keeps the superblock and group descriptors in
// memory and would write its own copies over a journal added before.
func (b *builder) addJournal(p *Partition) error {
	if !b.l.journal {
		return nil
	}
	g, _, err := readExt4Geom(b.f, p.Offset)
	if err != nil {
		return err
	}
	bs := g.BlockSize
	id := [16]byte(uuid.MustParse(seedGUID(b.l.seed, ext4Purpose(p, "ext4 journal uuid"))))
	var dev ext4edit.Device = b.f
	if b.holes != nil {
		dev = b.holes
	}
	if err := ext4edit.AddJournal(dev, p.Offset, journalBytes(p.Size)/bs, id, b.l.Time); err != nil {
		return fmt.Errorf("adding the ext4 journal: %w", err)
	}
	return b.zeroJournal(dev, p, bs)
}

// journalBytes sizes the journal of a data partition of size bytes. An
// in-place update journals a few metadata blocks (bitmap, descriptor,
// inode table, extent blocks) per block group it allocates in, so the
// journal grows with the group count: size/8192 is 4 blocks per 128 MiB
// group, 4 MiB (1024 4-KiB blocks) up to a 32 GiB volume; 128 MiB is
// mke2fs's ceiling.
func journalBytes(size int64) int64 { return min(128*mib, max(4*mib, size/8192)) }

// checkExt4Room reads the new volume's free block count, so a sizing
// mistake shows up as an error here rather than as a full volume later
// (the journal, added last, included).
func (b *builder) checkExt4Room(p *Partition) error {
	g, sb, err := readExt4Geom(b.f, p.Offset)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	free := int64(le.Uint32(sb[0x0c:])) | int64(le.Uint32(sb[0x158:]))<<32
	room := free * g.BlockSize
	if need := p.Content + journalBytes(p.Size); room < need {
		return fmt.Errorf("ext4 volume has %d bytes free, the files and journal need %d", room, need)
	}
	return nil
}

func extPath(p string) string { return strings.TrimPrefix(p, "/") }

func (b *builder) placeExt4(fs filesystem.FileSystem, p *Partition, f File) error {
	if dir := parentDir(f.Path); dir != "/" {
		if err := fs.Mkdir(extPath(dir)); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	h, err := fs.OpenFile(extPath(f.Path), os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("creating %s: %w", f.Path, err)
	}
	defer h.Close()
	if b.deferred(f) {
		ext, err := b.allocateExt4(h, p, f)
		if err != nil {
			return fmt.Errorf("allocating %s: %w", f.Path, err)
		}
		b.placeDeferred(p, f, ext)
		return nil
	}
	return b.place(p, f, ext4Sink(h), nil)
}

// ext4Sink writes through go-diskfs, which allocates as it goes. An all-zero
// chunk only has its last byte written: that allocates the chunk's blocks,
// and the rest of them, never written in the sparse image, read as zeros.
func ext4Sink(h filesystem.File) sink {
	return func(buf []byte, off int64, zero bool) error {
		if zero {
			off, buf = off+int64(len(buf))-1, buf[len(buf)-1:]
		}
		if _, err := h.Seek(off, io.SeekStart); err != nil {
			return err
		}
		n, err := h.Write(buf)
		if err == nil && n != len(buf) {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(buf))
		}
		return err
	}
}

// zeroJournal zeroes the journal's blocks after its superblock in a
// deferred build: a device holds old data there, and a stale journal block
// of an earlier kit at the same place could pass for a transaction to
// replay. In a fresh image file they read as zeros already.
func (b *builder) zeroJournal(dev ext4edit.Device, p *Partition, bs int64) error {
	if b.holes == nil {
		return nil
	}
	_, sb, err := readExt4Geom(b.f, p.Offset)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	jb := sb[0x10c:] // s_jnl_blocks: the journal inode's extent root
	if le.Uint16(jb) != 0xf30a || le.Uint16(jb[6:]) != 0 {
		return fmt.Errorf("the ext4 journal's extent root is not a leaf")
	}
	zero := make([]byte, mib)
	for i := 0; i < int(le.Uint16(jb[2:])); i++ {
		e := jb[12+12*i:]
		first, n := int64(le.Uint16(e[6:]))<<32|int64(le.Uint32(e[8:])), int64(le.Uint16(e[4:]))
		if le.Uint32(e) == 0 { // the journal superblock stays
			first, n = first+1, n-1
		}
		for off, end := p.Offset+first*bs, p.Offset+(first+n)*bs; off < end; off += mib {
			if _, err := dev.WriteAt(zero[:min(mib, end-off)], off); err != nil {
				return fmt.Errorf("zeroing the ext4 journal: %w", err)
			}
		}
	}
	return nil
}

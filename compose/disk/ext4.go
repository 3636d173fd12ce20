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
)

// ext4Features: no journal (nothing to replay on a read-mostly stick, and
// its UUID would be random), no resize inode (go-diskfs v1.9.4 writes one
// e2fsck calls invalid), no metadata_csum (so fixExt4 can patch timestamps
// without recomputing checksums; GRUB and Linux read it either way).
var ext4Features = []ext4.FeatureOpt{
	ext4.WithFeatureHasJournal(false),
	ext4.WithFeatureReservedGDTBlocksForExpansion(false),
	ext4.WithFeatureMetadataChecksums(false),
}

func (b *builder) fillExt4(p *Partition) error {
	u := uuid.MustParse(seedGUID(b.l.seed, "ext4 uuid"))
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
	return fixExt4(b.f, p.Offset, b.l.Time, seedBytes(b.l.seed, "ext4 hash seed"))
}

// checkExt4Room reads the new volume's free block count, so a sizing
// mistake shows up as an error here rather than as a full volume later.
func (b *builder) checkExt4Room(p *Partition) error {
	sb := make([]byte, 1024)
	if _, err := b.f.ReadAt(sb, p.Offset+1024); err != nil {
		return fmt.Errorf("reading ext4 superblock: %w", err)
	}
	le := binary.LittleEndian
	free := int64(le.Uint32(sb[0x0c:])) | int64(le.Uint32(sb[0x158:]))<<32
	room := free * (1024 << le.Uint32(sb[0x18:]))
	if room < p.Content {
		return fmt.Errorf("ext4 volume has %d bytes free, the files need %d", room, p.Content)
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

package disk

import (
	"fmt"
	"io"
	"os"

	"github.com/diskfs/go-diskfs/filesystem/fat12"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
)

// fillFAT creates the ESP's FAT32 volume and places its files. go-diskfs
// makes directories and allocates each file's whole cluster chain with one
// write of its last byte; the contents then go straight to the chain's disk
// ranges (see the package documentation for why).
func (b *builder) fillFAT(p *Partition) error {
	fs, err := fat32.Create(b.be, p.Size, p.Offset, sectorSize, p.Label, true)
	if err != nil {
		return fmt.Errorf("creating FAT32: %w", err)
	}
	for _, f := range p.Files {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if err := b.placeFAT(fs, p, f); err != nil {
			return err
		}
	}
	return fixFAT(b.f, p.Offset, uint32(p.FirstLBA), p.FAT.VolumeID, b.l.Time)
}

func (b *builder) placeFAT(fs *fat32.FileSystem, p *Partition, f File) error {
	if dir := parentDir(f.Path); dir != "/" {
		if err := fs.Mkdir(dir); err != nil {
			return fmt.Errorf("creating %s: %w", dir, err)
		}
	}
	h, err := fs.OpenFile(f.Path, os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("creating %s: %w", f.Path, err)
	}
	defer h.Close()
	size := f.size()
	if size == 0 {
		return b.place(p, f, nil, nil)
	}
	if _, err := h.Seek(size-1, io.SeekStart); err != nil {
		return fmt.Errorf("allocating %s: %w", f.Path, err)
	}
	if _, err := h.Write([]byte{0}); err != nil {
		return fmt.Errorf("allocating %s: %w", f.Path, err)
	}
	ext, err := fatExtents(h, p, size)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	if b.deferred(f) {
		b.placeDeferred(p, f, ext)
		return nil
	}
	if f.Source != "" && f.SHA256 != "" {
		return b.placeKnown(p, f, ext)
	}
	if f.Copy != nil && f.Source == "" && !b.deferSrc {
		return b.placeCopy(p, f, ext)
	}
	return b.place(p, f, b.extentSink(ext), ext)
}

// placeKnown copies a source whose digest is declared (see kernelCopy).
func (b *builder) placeKnown(p *Partition, f File, ext []Extent) error {
	src, err := os.Open(f.Source)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer src.Close()
	base := b.done
	ev := Event{Kind: EventPlace, Path: f.Path, Partition: p.Index, Total: f.Size, AllTotal: b.total}
	// The bytes skip this process, so the pinned digest is checked by
	// hashing the source beside the copy (from the page cache, mostly).
	stop := make(chan struct{})
	type hashed struct {
		sum []byte
		err error
	}
	sumc := make(chan hashed, 1)
	go func() {
		alg := orDefault(f.Algorithm, "sha256")
		sum, err := hashFile(stop, f.Source, alg)
		sumc <- hashed{sum, err}
	}()
	err = b.kernelCopy(b.ctx, src, f.Size, ext, func(n int64) {
		ev.Done, ev.AllDone = n, base+n
		b.progress(ev)
	})
	if err != nil {
		close(stop)
		<-sumc
		return fmt.Errorf("placing %s: %w", f.Path, err)
	}
	h := <-sumc
	if h.err != nil {
		return fmt.Errorf("hashing %s: %w", f.Source, h.err)
	}
	pin := f
	if pin.Digest == "" {
		pin.Algorithm, pin.Digest = "sha256", f.SHA256
	}
	if err := checkSum(pin, h.sum); err != nil {
		return err
	}
	b.done = base + f.Size
	b.placed = append(b.placed, Placed{Path: f.Path, Partition: p.Index, Size: f.Size, SHA256: f.SHA256, Extents: ext})
	return nil
}

// fatExtents returns the file's image byte ranges, trimmed to its size, and
// checks they lie in the partition's data area.
func fatExtents(h interface{}, p *Partition, size int64) ([]Extent, error) {
	ff, ok := h.(*fat12.File)
	if !ok {
		return nil, fmt.Errorf("go-diskfs returned %T, not a FAT file", h)
	}
	rs, err := ff.GetDiskRanges()
	if err != nil {
		return nil, fmt.Errorf("reading cluster chain: %w", err)
	}
	var ext []Extent
	left := size
	for _, r := range rs {
		n := min(int64(r.Length), left)
		e := Extent{Offset: p.Offset + int64(r.Offset), Length: n}
		if e.Offset+int64(r.Length) > p.Offset+p.Size {
			return nil, fmt.Errorf("cluster chain runs past the partition end (volume full)")
		}
		ext = append(ext, e)
		if left -= n; left == 0 {
			break
		}
	}
	if left != 0 {
		return nil, fmt.Errorf("cluster chain holds %d bytes fewer than the file", left)
	}
	return ext, nil
}

// extentSink writes file offsets into their image ranges. Zero chunks are
// skipped: the image file starts sparse and these clusters were never
// written, so they already read as zeros.
func (b *builder) extentSink(ext []Extent) sink {
	return func(buf []byte, off int64, zero bool) error {
		if zero && !b.deferSrc { // a deferred build's image is written to a device that skips holes
			return nil
		}
		var base int64
		for _, e := range ext {
			for len(buf) > 0 && off >= base && off < base+e.Length {
				n := min(int64(len(buf)), base+e.Length-off)
				if _, err := b.f.WriteAt(buf[:n], e.Offset+off-base); err != nil {
					return err
				}
				buf, off = buf[n:], off+n
			}
			base += e.Length
		}
		if len(buf) > 0 {
			return fmt.Errorf("write at %d beyond the file's clusters", off)
		}
		return nil
	}
}

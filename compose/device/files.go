package device

import (
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"sort"
	"strings"

	"github.com/usbkit/compose/config/digest"
)

// File is a host file the image leaves out (compose/disk's Spec.Defer): its
// blocks are allocated in the image's file system at Extents, and Write
// streams its bytes from Source straight to those ranges on every device.
type File struct {
	Name    string   // where it lives on the kit, for errors
	Source  string   // the host file
	Size    int64    // its size; the extents cover exactly this much
	Extents []Extent // image byte ranges, in file order
	// Algorithm ("sha256" or "sha512"; empty means "sha256") and Digest
	// (hex), when Digest is set, are what Source's bytes must hash to. They
	// are hashed as they are written; a mismatch fails every device before
	// its partition table is written.
	Algorithm, Digest string
}

// Extent is a byte range of the image.
type Extent struct{ Offset, Length int64 }

// ErrSourceMismatch is matched (errors.Is) by a *SourceError.
var ErrSourceMismatch = errors.New("source does not match its digest")

// SourceError says a File's bytes, as written, did not hash to its Digest
// (the file changed after it was verified). The devices were left without
// a partition table.
type SourceError struct {
	Name, Source, Algorithm, Want, Got string
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("%s (for %s) hashed to %s:%s while it was written, not the pinned %s:%s",
		e.Source, e.Name, e.Algorithm, e.Got, e.Algorithm, e.Want)
}

// Is makes errors.Is(err, ErrSourceMismatch) true.
func (e *SourceError) Is(target error) bool { return target == ErrSourceMismatch }

// overlay lays the Files' bytes over the image: the body is read in image
// order, and each file's extents are in file order and do not interleave
// with each other's out of order, so every source is read once, front to
// back, and hashed on the way.
type overlay struct {
	pieces []piece // sorted by image offset, disjoint
	srcs   []*source
	tail   []byte // the image's tail region with file bytes laid in, read after the body
}

type piece struct {
	off, n, fileOff int64
	src             *source
}

type source struct {
	File
	f    *os.File
	h    hash.Hash // nil when there is no digest to check
	next int64     // the file offset the next read must start at
}

// newOverlay opens the sources and checks that their extents are disjoint,
// lie in the image outside its head, cover each file exactly and in file
// order.
func newOverlay(files []File, size int64, head span) (*overlay, error) {
	ov := &overlay{}
	for _, fl := range files {
		s, err := openSource(fl)
		if err != nil {
			ov.close()
			return nil, err
		}
		ov.srcs = append(ov.srcs, s)
		var fo int64
		for _, e := range fl.Extents {
			ov.pieces = append(ov.pieces, piece{e.Offset, e.Length, fo, s})
			fo += e.Length
		}
		if fo != fl.Size {
			ov.close()
			return nil, fmt.Errorf("%s: extents cover %d bytes, the file has %d", fl.Name, fo, fl.Size)
		}
	}
	if err := ov.check(size, head); err != nil {
		ov.close()
		return nil, err
	}
	return ov, nil
}

func openSource(fl File) (*source, error) {
	s := &source{File: fl}
	if fl.Digest != "" {
		if s.Algorithm == "" { // see File
			s.Algorithm = "sha256"
		}
		h, err := digest.New(s.Algorithm)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fl.Name, err)
		}
		s.h = h
	}
	f, err := os.Open(fl.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fl.Name, err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != fl.Size {
		f.Close()
		return nil, fmt.Errorf("%s: source %s is not %d bytes (changed since it was planned)", fl.Name, fl.Source, fl.Size)
	}
	s.f = f
	return s, nil
}

func (ov *overlay) check(size int64, head span) error {
	sort.Slice(ov.pieces, func(i, j int) bool { return ov.pieces[i].off < ov.pieces[j].off })
	next := map[*source]int64{}
	end := head.End
	for _, p := range ov.pieces {
		switch {
		case p.off < end:
			return fmt.Errorf("%s: extent at %d overlaps the image's head or another extent", p.src.Name, p.off)
		case p.off+p.n > size:
			return fmt.Errorf("%s: extent at %d runs past the image's end", p.src.Name, p.off)
		case p.fileOff != next[p.src]:
			return fmt.Errorf("%s: extents are not in file order on the disk", p.src.Name)
		}
		next[p.src] += p.n
		end = p.off + p.n
	}
	return nil
}

// spans are the image ranges the files occupy.
func (ov *overlay) spans() []span {
	out := make([]span, len(ov.pieces))
	for i, p := range ov.pieces {
		out[i] = span{p.off, p.off + p.n}
	}
	return out
}

// read fills buf with the image's bytes at off, the files' bytes where
// their extents lie. Calls must come in image order from one goroutine.
func (ov *overlay) read(img *os.File, buf []byte, off int64) error {
	end := off + int64(len(buf))
	i := sort.Search(len(ov.pieces), func(i int) bool { return ov.pieces[i].off+ov.pieces[i].n > off })
	pos := off
	for ; i < len(ov.pieces) && ov.pieces[i].off < end; i++ {
		p := ov.pieces[i]
		lo, hi := max(p.off, off), min(p.off+p.n, end)
		if err := readImage(img, buf[pos-off:lo-off], pos); err != nil {
			return err
		}
		if err := p.src.read(buf[lo-off:hi-off], p.fileOff+lo-p.off); err != nil {
			return err
		}
		pos = hi
	}
	return readImage(img, buf[pos-off:], pos)
}

func readImage(img *os.File, b []byte, off int64) error {
	if len(b) == 0 {
		return nil
	}
	if _, err := img.ReadAt(b, off); err != nil {
		return fmt.Errorf("reading image at offset %d: %w", off, err)
	}
	return nil
}

func (s *source) read(b []byte, off int64) error {
	if off != s.next {
		return fmt.Errorf("%s: read at %d, expected %d (out of order)", s.Name, off, s.next)
	}
	if _, err := s.f.ReadAt(b, off); err != nil {
		return fmt.Errorf("reading %s at %d: %w", s.Source, off, err)
	}
	if s.h != nil {
		s.h.Write(b)
	}
	forget(s.f, off, int64(len(b)))
	s.next += int64(len(b))
	return nil
}

// verify checks that every source was read whole and hashed to its pin.
func (ov *overlay) verify() error {
	for _, s := range ov.srcs {
		if s.next != s.Size {
			return fmt.Errorf("%s: %d of %d bytes were read", s.Name, s.next, s.Size)
		}
		if s.h == nil {
			continue
		}
		if got := hex.EncodeToString(s.h.Sum(nil)); !strings.EqualFold(got, s.Digest) {
			return &SourceError{Name: s.Name, Source: s.Source, Algorithm: s.Algorithm, Want: strings.ToLower(s.Digest), Got: got}
		}
	}
	return nil
}

func (ov *overlay) close() {
	for _, s := range ov.srcs {
		if s.f != nil {
			s.f.Close()
		}
	}
}

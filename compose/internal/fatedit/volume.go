package fatedit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/config/fatbpb"
)

// Device is what a volume lives on: an image file or a block device.
// Offsets passed to it are absolute (Volume adds the partition offset).
type Device interface {
	io.ReaderAt
	io.WriterAt
}

// ErrNotFAT32 is returned by Open for anything but a FAT32 volume.
var ErrNotFAT32 = errors.New("not a FAT32 volume")

const (
	eoc     = 0x0FFFFFF8 // chain ends at or above
	fatMask = 0x0FFFFFFF
	slot    = 32
)

// Volume is an open FAT32 file system.
type Volume struct {
	dev        Device
	off        int64 // partition start on dev
	bps, cs    int64 // bytes per sector, cluster
	fat1, fat2 int64 // byte offsets (partition-relative)
	fatBytes   int64
	data       int64 // byte offset of cluster 2
	clusters   uint32
	fsinfo     int64 // byte offset of the FSInfo sector, 0 if none
	fat        []uint32
	root       *node
}

// File is one regular file of the volume.
type File struct {
	Path string
	Size int64
}

type node struct {
	path    string
	name    string
	dir     bool
	first   uint32
	size    int64
	slots   []byte // the entry as on disk: long-name slots then the 8.3 entry
	kids    []*node
	label   []byte       // root only: the volume label entry
	content *edit.Change // set by Update for content still to write
}

// Open reads the FAT32 volume at byte offset off of dev.
func Open(dev Device, off int64) (*Volume, error) {
	bs := make([]byte, 512)
	if _, err := dev.ReadAt(bs, off); err != nil {
		return nil, fmt.Errorf("reading boot sector: %w", err)
	}
	p, err := fatbpb.Parse(bs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFAT32, err)
	}
	if !p.Signed || !p.FAT32 || p.RootEntries != 0 || string(bs[82:87]) != "FAT32" || p.FATs != 2 ||
		(p.BytesPerSector != 512 && p.BytesPerSector != 4096) || p.Clusters() > fatMask-16 {
		return nil, ErrNotFAT32
	}
	v := &Volume{dev: dev, off: off, bps: p.BytesPerSector}
	v.cs = p.SectorsPerCluster * v.bps
	v.fat1 = p.Reserved * v.bps
	v.fatBytes = p.FATSectors * v.bps
	v.fat2 = v.fat1 + v.fatBytes
	v.data = v.fat2 + v.fatBytes
	v.clusters = uint32(p.Clusters())
	if p.FSInfo > 0 && p.FSInfo < p.Reserved {
		v.fsinfo = p.FSInfo * v.bps
	}
	if int64(v.clusters+2)*4 > v.fatBytes {
		return nil, fmt.Errorf("FAT of %d bytes is too short for %d clusters", v.fatBytes, v.clusters)
	}
	if err := v.readFAT(); err != nil {
		return nil, err
	}
	v.root = &node{path: "/", dir: true, first: p.RootCluster}
	if err := v.readDir(v.root, &dirWalk{seen: map[uint32]string{}}); err != nil {
		return nil, err
	}
	return v, nil
}

// ErrMalformed is matched by the error of a directory tree no FAT writer
// makes: a directory whose clusters are another's (a loop when it is an
// ancestor's), or more directory records than any ESP holds.
var ErrMalformed = errors.New("malformed FAT directory tree")

// maxDirBytes bounds the directory records Open reads: a kit's ESP has a
// few KiB of them.
const maxDirBytes = 64 << 20

// dirWalk is what Open has read of the tree so far. A stick is hostile
// input: a subdirectory whose first cluster was the root's made the
// recursive read descend into the root forever, 5 GB of memory a second,
// deaf to Ctrl-C (found by the recheck pass, in verify and plan).
type dirWalk struct {
	seen  map[uint32]string // a directory's first cluster → its path
	bytes int64
}

func (v *Volume) readFAT() error {
	n := int64(v.clusters+2) * 4
	a, b := make([]byte, n), make([]byte, n)
	if _, err := v.dev.ReadAt(a, v.off+v.fat1); err != nil {
		return fmt.Errorf("reading FAT 1: %w", err)
	}
	if _, err := v.dev.ReadAt(b, v.off+v.fat2); err != nil {
		return fmt.Errorf("reading FAT 2: %w", err)
	}
	if string(a[8:]) != string(b[8:]) {
		return errors.New("the two FATs differ (interrupted by something else?); check the volume with fsck.fat")
	}
	v.fat = make([]uint32, v.clusters+2)
	for i := range v.fat {
		v.fat[i] = binary.LittleEndian.Uint32(a[4*i:]) & fatMask
	}
	return nil
}

// chain returns the clusters of the chain starting at first.
func (v *Volume) chain(first uint32) ([]uint32, error) { return v.chainOf(first, 0) }

// chainOf is chain with room for n clusters made up front (a 1 GiB file
// has 262,144 of 4 KiB: growing the slice costs more than walking).
func (v *Volume) chainOf(first uint32, n int64) ([]uint32, error) {
	out := make([]uint32, 0, min(n, int64(v.clusters)))
	for c := first; c < eoc; c = v.fat[c] {
		if c < 2 || c >= v.clusters+2 || len(out) > int(v.clusters) {
			return nil, fmt.Errorf("broken cluster chain from %d at %d", first, c)
		}
		out = append(out, c)
	}
	return out, nil
}

func (v *Volume) clusterOff(c uint32) int64 { return v.data + int64(c-2)*v.cs }

func (v *Volume) readDir(d *node, w *dirWalk) error {
	ch, err := v.chain(d.first)
	if err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	if other, ok := w.seen[d.first]; ok {
		return fmt.Errorf("%w: directory %s has the clusters of directory %s", ErrMalformed, d.path, other)
	}
	w.seen[d.first] = d.path
	if w.bytes += int64(len(ch)) * v.cs; w.bytes > maxDirBytes {
		return fmt.Errorf("%w: more than %d MiB of directory records", ErrMalformed, maxDirBytes>>20)
	}
	buf := make([]byte, int64(len(ch))*v.cs)
	for i, c := range ch {
		if _, err := v.dev.ReadAt(buf[int64(i)*v.cs:int64(i+1)*v.cs], v.off+v.clusterOff(c)); err != nil {
			return fmt.Errorf("reading directory %s: %w", d.path, err)
		}
	}
	var pending []byte
	for i := 0; i+slot <= len(buf); i += slot {
		e := buf[i : i+slot]
		switch {
		case e[0] == 0:
			return v.readKids(d, w)
		case e[0] == 0xE5:
			pending = nil
		case e[11] == 0x0F:
			pending = append(pending, e...)
		case e[11]&0x08 != 0:
			if d == v.root {
				d.label = append([]byte(nil), e...)
			}
			pending = nil
		case e[0] == '.':
			pending = nil
		default:
			d.kids = append(d.kids, v.entry(d, append(pending, e...)))
			pending = nil
		}
	}
	return v.readKids(d, w)
}

func (v *Volume) readKids(d *node, w *dirWalk) error {
	for _, k := range d.kids {
		if k.dir {
			if err := v.readDir(k, w); err != nil {
				return err
			}
		}
	}
	return nil
}

func (v *Volume) entry(parent *node, slots []byte) *node {
	le := binary.LittleEndian
	s := slots[len(slots)-slot:]
	n := &node{slots: slots, dir: s[11]&0x10 != 0,
		first: uint32(le.Uint16(s[20:]))<<16 | uint32(le.Uint16(s[26:])), size: int64(le.Uint32(s[28:]))}
	n.name = LongName(slots[:len(slots)-slot], s)
	if n.name == "" {
		n.name = shortName(s)
	}
	n.path = strings.TrimSuffix(parent.path, "/") + "/" + n.name
	return n
}

// Files lists the regular files, sorted by path.
func (v *Volume) Files() []File {
	var out []File
	var walk func(*node)
	walk = func(d *node) {
		for _, k := range d.kids {
			if k.dir {
				walk(k)
			} else {
				out = append(out, File{Path: k.path, Size: k.size})
			}
		}
	}
	walk(v.root)
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// lookup finds a node by path, case-insensitively as FAT does.
func (v *Volume) lookup(p string) *node {
	cur := v.root
	for _, part := range strings.Split(strings.Trim(p, "/"), "/") {
		if part == "" {
			continue
		}
		var next *node
		for _, k := range cur.kids {
			if strings.EqualFold(k.name, part) {
				next = k
				break
			}
		}
		if next == nil {
			return nil
		}
		cur = next
	}
	return cur
}

// Open returns a reader of the file at path and its size.
func (v *Volume) Open(path string) (*io.SectionReader, error) {
	n := v.lookup(path)
	if n == nil || n.dir {
		return nil, fmt.Errorf("%s: no such file on the volume", path)
	}
	fr := &fileReader{v: v}
	if n.size > 0 {
		ch, err := v.chainOf(n.first, (n.size+v.cs-1)/v.cs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if int64(len(ch)) != (n.size+v.cs-1)/v.cs {
			return nil, fmt.Errorf("%s: %d bytes but %d clusters of %d", path, n.size, len(ch), v.cs)
		}
		fr.runs = runs(ch)
	}
	return io.NewSectionReader(fr, 0, n.size), nil
}

// fileReader reads a file's clusters at file offsets.
type fileReader struct {
	v    *Volume
	runs []run
}

func (f *fileReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for _, r := range f.runs {
		l := int64(r.n) * f.v.cs
		if off >= l {
			off -= l
			continue
		}
		k := int(min(int64(len(b)-n), l-off))
		m, err := f.v.dev.ReadAt(b[n:n+k], f.v.off+f.v.clusterOff(r.first)+off)
		n += m
		if err != nil || n == len(b) {
			return n, err
		}
		off = 0
	}
	return n, io.EOF
}

// ReadFile returns the whole content of a (small) file.
func (v *Volume) ReadFile(path string) ([]byte, error) {
	r, err := v.Open(path)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Free is the bytes of free clusters.
func (v *Volume) Free() int64 {
	var n int64
	for c := uint32(2); c < v.clusters+2; c++ {
		if v.fat[c] == 0 {
			n++
		}
	}
	return n * v.cs
}

// ClusterSize is the allocation unit in bytes.
func (v *Volume) ClusterSize() int64 { return v.cs }

type run struct{ first, n uint32 }

func runs(ch []uint32) []run {
	var out []run
	for _, c := range ch {
		if k := len(out) - 1; k >= 0 && out[k].first+out[k].n == c {
			out[k].n++
			continue
		}
		out = append(out, run{c, 1})
	}
	return out
}

package bootloader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/usbkit/compose/config/fatbpb"
)

// readFATFile reads one file out of a FAT12 or FAT16 image held in memory: the EFI boot
// images inside ISOs (iPXE's efi.img) are that small. Names are matched against 8.3 short
// names, case-insensitively; long names are not needed for EFI/BOOT/BOOTX64.EFI.
//
// The image comes from an ISO, so every field is checked before it is used: a BPB whose
// FATs or root directory lie past the image, a cluster number past the data area or a
// chain that loops is an error naming the field, never a panic or an endless read
// (issue 22, F4: one byte of iPXE's efi.img, its reserved sectors, crashed compose).
func readFATFile(img []byte, path string) ([]byte, error) {
	f, err := parseFAT(img)
	if err != nil {
		return nil, err
	}
	dir := f.root
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, name := range parts {
		cluster, size, isDir, err := lookup(dir, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		last := i == len(parts)-1
		if last && isDir {
			return nil, fmt.Errorf("%s: a directory, not a file", path)
		}
		if !last && !isDir {
			return nil, fmt.Errorf("%s: %s is not a directory", path, name)
		}
		limit := -1 // a directory's chain is read whole
		if last {
			limit = size
		}
		data, err := f.chain(cluster, limit)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		if last {
			if size > len(data) {
				return nil, fmt.Errorf("%s: its size says %d bytes, its clusters hold %d", path, size, len(data))
			}
			return data[:size], nil
		}
		dir = data
	}
	return nil, fmt.Errorf("%s: empty path", path)
}

type fatImage struct {
	img      []byte
	csize    int // bytes per cluster
	fat      []byte
	root     []byte
	data     int // byte offset of cluster 2
	clusters int // data clusters: numbers 2 … clusters+1
	fat12    bool
}

// errNotFAT says the bytes are no FAT12/FAT16 image compose can read.
var errNotFAT = errors.New("not a FAT12/FAT16 image")

// parseFAT reads the BPB (fatbpb checks its fields against each other) and
// checks that what it describes is FAT12/16 and lies in img.
func parseFAT(img []byte) (*fatImage, error) {
	p, err := fatbpb.Parse(img)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNotFAT, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", errNotFAT, fmt.Sprintf(format, a...))
	}
	bps, spc, tot := int(p.BytesPerSector), int(p.SectorsPerCluster), int(p.TotalSectors)
	switch {
	case p.FAT32:
		return nil, bad("FAT size 0 (FAT32 keeps it elsewhere; EFI images in ISOs are FAT12/16)")
	case p.RootEntries == 0:
		return nil, bad("no root directory entries")
	case tot > len(img)/bps:
		return nil, bad("it claims %d sectors, the image holds %d (truncated)", tot, len(img)/bps)
	}
	fat, root, data := int(p.Reserved)*bps, int(p.RootSector())*bps, int(p.DataSector())*bps
	f := &fatImage{img: img, csize: bps * spc, fat: img[fat : fat+int(p.FATSectors)*bps], root: img[root:data],
		data: data, clusters: int(p.Clusters())}
	f.fat12 = f.clusters < 4085
	switch need := 2 * (f.clusters + 2); {
	case f.clusters == 0:
		return nil, bad("no whole cluster in its data area")
	case f.clusters >= 65525:
		return nil, bad("%d clusters make it FAT32", f.clusters)
	case f.fat12 && len(f.fat) < (3*(f.clusters+2)+1)/2, !f.fat12 && len(f.fat) < need:
		return nil, bad("a FAT of %d bytes cannot map %d clusters", len(f.fat), f.clusters)
	}
	return f, nil
}

// chain reads the cluster chain starting at c: whole when limit < 0, else
// only the clusters that hold limit bytes. A chain visits each cluster at
// most once, so its length is bounded by the image.
func (f *fatImage) chain(c, limit int) ([]byte, error) {
	var out []byte
	for n := 0; c >= 2 && (limit < 0 || len(out) < limit); n++ {
		if c >= f.clusters+2 {
			return nil, fmt.Errorf("cluster %d is past the last (%d)", c, f.clusters+1)
		}
		if n >= f.clusters {
			return nil, fmt.Errorf("its cluster chain loops")
		}
		off := f.data + (c-2)*f.csize
		out = append(out, f.img[off:off+f.csize]...)
		c = f.next(c)
	}
	return out, nil
}

// next is the FAT's entry for cluster c: the next cluster, or 0 at the
// chain's end (end marks, bad cluster marks and free entries all end it).
func (f *fatImage) next(c int) int {
	var v, end int
	if f.fat12 {
		o := c + c/2
		v, end = int(binary.LittleEndian.Uint16(f.fat[o:])), 0xff7
		if c&1 == 1 {
			v >>= 4
		}
		v &= 0xfff
	} else {
		v, end = int(binary.LittleEndian.Uint16(f.fat[2*c:])), 0xfff7
	}
	if v >= end || v < 2 {
		return 0
	}
	return v
}

func lookup(dir []byte, name string) (cluster, size int, isDir bool, err error) {
	want := strings.ToUpper(name)
	for i := 0; i+32 <= len(dir); i += 32 {
		e := dir[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xe5 || e[11]&0x0f == 0x0f || e[11]&0x08 != 0 {
			continue
		}
		base := strings.TrimRight(string(e[0:8]), " ")
		ext := strings.TrimRight(string(e[8:11]), " ")
		if ext != "" {
			base += "." + ext
		}
		if base == want {
			return int(binary.LittleEndian.Uint16(e[26:])), int(binary.LittleEndian.Uint32(e[28:])), e[11]&0x10 != 0, nil
		}
	}
	return 0, 0, false, fmt.Errorf("%s not found", name)
}

package bootloader

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// readFATFile reads one file out of a FAT12 or FAT16 image held in memory: the EFI boot
// images inside ISOs (iPXE's efi.img) are that small. Names are matched against 8.3 short
// names, case-insensitively; long names are not needed for EFI/BOOT/BOOTX64.EFI.
func readFATFile(img []byte, path string) ([]byte, error) {
	if len(img) < 512 {
		return nil, errors.New("FAT image too small")
	}
	bps := int(binary.LittleEndian.Uint16(img[11:]))
	spc := int(img[13])
	rsvd := int(binary.LittleEndian.Uint16(img[14:]))
	nfats := int(img[16])
	rootEnts := int(binary.LittleEndian.Uint16(img[17:]))
	fatSz := int(binary.LittleEndian.Uint16(img[22:]))
	tot := int(binary.LittleEndian.Uint16(img[19:]))
	if tot == 0 {
		tot = int(binary.LittleEndian.Uint32(img[32:]))
	}
	if bps < 512 || bps&(bps-1) != 0 || spc == 0 || fatSz == 0 || rootEnts == 0 || tot*bps > len(img) {
		return nil, errors.New("not a FAT12/FAT16 image (or truncated)")
	}
	rootSec := rsvd + nfats*fatSz
	dataSec := rootSec + (rootEnts*32+bps-1)/bps
	f := &fatImage{img: img, bps: bps, spc: spc, fat: img[rsvd*bps : (rsvd+fatSz)*bps], data: dataSec * bps,
		fat12: (tot-dataSec)/spc < 4085}
	dir := img[rootSec*bps : dataSec*bps]
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i, name := range parts {
		cluster, size, isDir, err := lookup(dir, name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		data, err := f.chain(cluster)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if i == len(parts)-1 {
			if isDir || size > len(data) {
				return nil, fmt.Errorf("%s: not a regular file or truncated", path)
			}
			return data[:size], nil
		}
		if !isDir {
			return nil, fmt.Errorf("%s: %s is not a directory", path, name)
		}
		dir = data
	}
	return nil, fmt.Errorf("%s: empty path", path)
}

type fatImage struct {
	img      []byte
	bps, spc int
	fat      []byte
	data     int
	fat12    bool
}

// chain reads a cluster chain's data.
func (f *fatImage) chain(c int) ([]byte, error) {
	var out []byte
	csize := f.bps * f.spc
	for n := 0; c >= 2; n++ {
		off := f.data + (c-2)*csize
		if off+csize > len(f.img) || n > len(f.img)/csize {
			return nil, errors.New("cluster chain out of range")
		}
		out = append(out, f.img[off:off+csize]...)
		c = f.next(c)
	}
	return out, nil
}

func (f *fatImage) next(c int) int {
	if f.fat12 {
		o := c + c/2
		if o+1 >= len(f.fat) {
			return 0
		}
		v := int(binary.LittleEndian.Uint16(f.fat[o:]))
		if c&1 == 1 {
			v >>= 4
		}
		if v &= 0xfff; v >= 0xff8 {
			return 0
		}
		return v
	}
	if 2*c+1 >= len(f.fat) {
		return 0
	}
	if v := int(binary.LittleEndian.Uint16(f.fat[2*c:])); v < 0xfff8 {
		return v
	}
	return 0
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

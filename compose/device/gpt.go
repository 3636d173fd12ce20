package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/usbkit/compose/compose/internal/zero"
	"github.com/usbkit/compose/config/fatbpb"
)

// gpt is the part of an image's GUID partition table the writer needs to
// move the backup table to the end of a larger device.
//
// Why not go-diskfs's gpt.Table.Resize (v1.9.4) and Table.Write: Write puts
// the tables straight onto the target in its own order, syncing as it goes,
// while the writer needs them as patches it orders itself (tables zeroed
// first, the head written last, so an interrupted stick never looks like a
// kit); Write regenerates the protective MBR, which would drop a hybrid MBR
// the image has; and a Read/Write round trip re-encodes every partition
// entry, where these patches change only the fields that move (alternate
// LBA, last usable LBA, backup locations) and the CRCs, leaving every other
// byte as the image builder wrote and verified it.
type gpt struct {
	sectorSize int
	header     []byte // the primary header's whole sector
	entries    []byte // the partition entry array, as in the image
	parts      []span // partitions, in bytes
	mbr        []byte // sector 0
}

// patch is bytes to put at a device offset, over whatever the image has.
type patch struct {
	off  int64
	data []byte
}

// readGPT finds a valid primary GPT at LBA 1 of the image for 512- or
// 4096-byte sectors; nil with no error when the image has none.
func readGPT(r io.ReaderAt, size int64) (*gpt, error) {
	for _, ss := range []int{512, 4096} {
		if int64(3*ss) > size {
			continue
		}
		hdr := make([]byte, ss)
		if _, err := r.ReadAt(hdr, int64(ss)); err != nil {
			return nil, fmt.Errorf("reading GPT header: %w", err)
		}
		if !bytes.Equal(hdr[:8], []byte("EFI PART")) {
			continue
		}
		g, err := parseGPT(r, hdr, ss)
		if err != nil {
			return nil, fmt.Errorf("image GPT (%d-byte sectors): %w", ss, err)
		}
		return g, nil
	}
	return nil, nil
}

func parseGPT(r io.ReaderAt, hdr []byte, ss int) (*gpt, error) {
	le := binary.LittleEndian
	hsize := le.Uint32(hdr[12:])
	if hsize < 92 || int(hsize) > ss {
		return nil, fmt.Errorf("header size %d", hsize)
	}
	if got, want := headerCRC(hdr[:hsize]), le.Uint32(hdr[16:]); got != want {
		return nil, errors.New("header CRC mismatch")
	}
	n, esize := le.Uint32(hdr[80:]), le.Uint32(hdr[84:])
	if esize < 128 || n > 1<<16 {
		return nil, fmt.Errorf("%d entries of %d bytes", n, esize)
	}
	entries := make([]byte, int(n)*int(esize))
	if _, err := r.ReadAt(entries, int64(le.Uint64(hdr[72:]))*int64(ss)); err != nil {
		return nil, fmt.Errorf("reading partition entries: %w", err)
	}
	if crc32.ChecksumIEEE(entries) != le.Uint32(hdr[88:]) {
		return nil, errors.New("partition entries CRC mismatch")
	}
	mbr := make([]byte, ss)
	if _, err := r.ReadAt(mbr, 0); err != nil {
		return nil, err
	}
	g := &gpt{sectorSize: ss, header: hdr, entries: entries, mbr: mbr}
	for i := 0; i < int(n); i++ {
		e := entries[i*int(esize):]
		if zero.All(e[:16]) {
			continue
		}
		first, last := int64(le.Uint64(e[32:])), int64(le.Uint64(e[40:]))
		g.parts = append(g.parts, span{first * int64(ss), (last + 1) * int64(ss)})
	}
	return g, nil
}

// headerCRC is the CRC32 of the header with its own CRC field zeroed.
func headerCRC(h []byte) uint32 {
	c := append([]byte(nil), h...)
	binary.LittleEndian.PutUint32(c[16:], 0)
	return crc32.ChecksumIEEE(c)
}

// patchesFor returns what to write, over the image, so the GPT fits a
// device of devSize bytes: the protective MBR resized, the primary header
// pointing at the new backup, the backup entries and header at the device's
// last LBAs, and the image's own backup zeroed when it is not at the end.
func (g *gpt) patchesFor(devSize int64) []patch {
	le := binary.LittleEndian
	ss := int64(g.sectorSize)
	lastLBA := uint64(devSize/ss) - 1
	entrySectors := (int64(len(g.entries)) + ss - 1) / ss
	backupEntries := lastLBA - uint64(entrySectors)
	hsize := le.Uint32(g.header[12:])

	primary := append([]byte(nil), g.header...)
	oldAlt := le.Uint64(primary[32:])
	oldEntries := oldAlt - uint64(entrySectors) // where a standard backup array sat
	le.PutUint64(primary[32:], lastLBA)
	le.PutUint64(primary[48:], backupEntries-1)
	le.PutUint32(primary[16:], headerCRC(primary[:hsize]))

	backup := append([]byte(nil), primary...)
	le.PutUint64(backup[24:], lastLBA)
	le.PutUint64(backup[32:], 1)
	le.PutUint64(backup[72:], backupEntries)
	le.PutUint32(backup[16:], headerCRC(backup[:hsize]))

	entries := make([]byte, entrySectors*ss)
	copy(entries, g.entries)
	var ps []patch
	if oldAlt != lastLBA && oldAlt > 1 && int64(oldAlt) < devSize/ss {
		ps = append(ps, patch{int64(oldEntries) * ss, make([]byte, (entrySectors+1)*ss)})
	}
	ps = append(ps,
		patch{0, g.protectiveMBR(devSize)},
		patch{ss, primary},
		patch{int64(backupEntries) * ss, entries},
		patch{int64(lastLBA) * ss, backup},
	)
	return ps
}

// protectiveMBR resizes a lone 0xEE entry starting at LBA 1 to cover the
// device (capped at 2^32-1 sectors); hybrid MBRs are left as they are.
func (g *gpt) protectiveMBR(devSize int64) []byte {
	le := binary.LittleEndian
	mbr := append([]byte(nil), g.mbr...)
	if mbr[510] != 0x55 || mbr[511] != 0xAA {
		return mbr
	}
	ee := -1
	for i := 0; i < 4; i++ {
		e := mbr[446+16*i:]
		switch {
		case e[4] == 0xEE && le.Uint32(e[8:]) == 1 && ee < 0:
			ee = i
		case e[4] != 0:
			return mbr // hybrid or odd: not ours to touch
		}
	}
	if ee >= 0 {
		n := uint64(devSize/int64(g.sectorSize)) - 1
		le.PutUint32(mbr[446+16*ee+12:], uint32(min(n, 0xFFFFFFFF)))
	}
	return mbr
}

// fatMetadata returns how many bytes at the start of a FAT partition hold
// its boot sector, reserved sectors, FATs and (FAT12/16) root directory, or
// 0 when the sector is not a FAT boot sector.
func fatMetadata(boot []byte) int64 {
	p, err := fatbpb.Parse(boot)
	if err != nil || !p.Signed {
		return 0
	}
	return p.MetadataBytes()
}

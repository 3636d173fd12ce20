// Package ext4fmt holds the facts of the ext4 on-disk format that both of
// compose's ext4 writers need: compose/disk (which makes the volumes
// go-diskfs creates reproducible) and compose/internal/ext4edit (which
// changes them in place). It imports nothing of the module.
package ext4fmt

import (
	"encoding/binary"
	"hash/crc32"
)

// HasSuperBackup reports whether block group g holds a superblock copy:
// every group without sparse_super, else groups 0, 1 and powers of 3, 5
// and 7.
func HasSuperBackup(g int64, sparse bool) bool {
	if !sparse || g <= 1 {
		return true
	}
	for _, p := range []int64{3, 5, 7} {
		n := p
		for n < g {
			n *= p
		}
		if n == g {
			return true
		}
	}
	return false
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crc32cRaw is CRC32C without the pre- and post-inversion, as ext4 (and
// go-diskfs) chain it.
func crc32cRaw(crc uint32, b []byte) uint32 { return ^crc32.Update(^crc, castagnoli, b) }

// InodeChecksum is ext4's inode checksum, which go-diskfs writes and
// insists on even without metadata_csum: CRC32C seeded from s_checksum_seed
// over the inode number, its generation and the inode. The caller zeroes
// the checksum fields (0x7c, and 0x82 where it keeps the high half) first.
func InodeChecksum(seed, number uint32, ino []byte) uint32 {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], number)
	c := crc32cRaw(seed, n[:])
	c = crc32cRaw(c, ino[0x64:0x68])
	return crc32cRaw(c, ino)
}

package ext4fmt

import (
	"hash/crc32"
	"testing"
)

// TestHasSuperBackup checks the groups mke2fs gives a backup with
// sparse_super (0, 1 and powers of 3, 5, 7 below 100) and that every group
// has one without it.
func TestHasSuperBackup(t *testing.T) {
	want := map[int64]bool{0: true, 1: true, 3: true, 5: true, 7: true, 9: true, 25: true, 27: true, 49: true, 81: true}
	for g := int64(0); g < 100; g++ {
		if got := HasSuperBackup(g, true); got != want[g] {
			t.Errorf("group %d, sparse: got %v", g, got)
		}
		if !HasSuperBackup(g, false) {
			t.Errorf("group %d without sparse_super: no backup", g)
		}
	}
}

// TestInodeChecksum checks the raw chaining against the standard CRC32C:
// seeding with ^0 and inverting the result gives crc32.Checksum.
func TestInodeChecksum(t *testing.T) {
	ino := make([]byte, 256)
	for i := range ino {
		ino[i] = byte(i * 7)
	}
	msg := append([]byte{5, 0, 0, 0}, ino[0x64:0x68]...)
	msg = append(msg, ino...)
	want := crc32.Checksum(msg, crc32.MakeTable(crc32.Castagnoli))
	if got := ^InodeChecksum(^uint32(0), 5, ino); got != want {
		t.Fatalf("got %#x, want %#x", got, want)
	}
	if InodeChecksum(1, 5, ino) == InodeChecksum(2, 5, ino) || InodeChecksum(1, 5, ino) == InodeChecksum(1, 6, ino) {
		t.Fatal("seed or number does not change the checksum")
	}
}

// Package zero tells whether a buffer holds only zero bytes: the test
// compose/disk (holes in a sparse image, zero chunks it need not write)
// and compose/device (empty GPT entries) make on every block they write,
// and ext4edit's tests make to keep a multi-GiB file sparse.
package zero

import "encoding/binary"

// All reports whether b holds only zeros. It compares a word at a time and
// returns at the first non-zero one, so random data costs nothing.
func All(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

package edit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// Copy puts the content at its extents, in chunks, the last block's tail
// zeroed, and says what it hashed; too short or too long content fails.
func TestCopy(t *testing.T) {
	content := []byte("0123456789abcdefghij") // 20 bytes
	sum := sha256.Sum256(content)
	for _, tc := range []struct {
		name  string
		block int64
		ext   []Extent
		want  string // the device after the copy
	}{
		{"bytes", 1, []Extent{{Off: 20, Len: 8}, {Off: 2, Len: 30}}, "..89abcdefghij......01234567...."},
		{"blocks", 8, []Extent{{Off: 24, Len: 8}, {Off: 0, Len: 16}}, "89abcdefghij\x00\x00\x00\x00........01234567"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := []byte(strings.Repeat(".", 32))
			var writes, last int64
			c := Copier{Opt: Options{Chunk: 3, Progress: func(done, total int64) { last = done }}, Total: 20}
			got, err := c.Copy(context.Background(), "/f", 20, bytes.NewReader(content), tc.ext, tc.block, func(b []byte, off int64) error {
				writes++
				copy(dev[off:], b)
				return nil
			})
			if err != nil || got != hex.EncodeToString(sum[:]) || string(dev) != tc.want || last != 20 || c.Done != 20 {
				t.Fatalf("%v, %s, device %q, progress %d, done %d", err, got, dev, last, c.Done)
			}
			if max := (20+tc.block-1)/tc.block*tc.block/roundUp(3, tc.block) + 2; writes > max {
				t.Errorf("%d writes, want at most %d", writes, max)
			}
		})
	}
	write := func([]byte, int64) error { return nil }
	c := Copier{}
	if _, err := c.Copy(context.Background(), "/f", 21, bytes.NewReader(content), []Extent{{0, 32}}, 1, write); err == nil || !strings.Contains(err.Error(), "reading the new /f") {
		t.Errorf("short content: %v", err)
	}
	if _, err := c.Copy(context.Background(), "/f", 19, bytes.NewReader(content), []Extent{{0, 32}}, 1, write); err == nil || !strings.Contains(err.Error(), "longer than its declared 19 bytes") {
		t.Errorf("long content: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Copy(ctx, "/f", 20, bytes.NewReader(content), []Extent{{0, 32}}, 1, write); err != context.Canceled {
		t.Errorf("cancelled: %v", err)
	}
}

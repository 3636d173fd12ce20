// Package edit holds what compose asks of its volume editors
// (compose/internal/fatedit and compose/internal/ext4edit): the files to
// write or remove, how to write them, and what an update did. Both
// editors take the same changes, so one list serves either volume.
package edit

import (
	"io"
	"time"
)

// Change is one file to write or remove.
type Change struct {
	Path   string
	Remove bool
	Size   int64
	Open   func() (io.ReadCloser, error) // the new content, Size bytes
}

// Options tune an update.
type Options struct {
	Time time.Time // stamps new entries (FAT) or new inodes and removals (ext4)
	// Progress gets the bytes of file content written so far and the total.
	Progress func(done, total int64)
	// Chunk is the largest content write, DefaultChunk when 0.
	Chunk int
}

// DefaultChunk is the largest content write when Options.Chunk is 0.
const DefaultChunk = 8 << 20

// ChunkSize is the largest content write o allows.
func (o Options) ChunkSize() int64 {
	if o.Chunk > 0 {
		return int64(o.Chunk)
	}
	return DefaultChunk
}

// Stats says what an update did.
type Stats struct {
	Written int64             // bytes written to the device, metadata (and journal) included
	SHA256  map[string]string // path → digest of the content written
}

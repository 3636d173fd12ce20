package disk

import (
	"io/fs"
	"os"
	"sync"

	"github.com/usbkit/compose/compose/internal/zero"
)

// holeFile is the image file as go-diskfs sees it in a deferred build: an
// all-zero write of a page or more punches a hole instead, where the
// system can (the fresh image reads zeros there either way). go-diskfs
// zero-fills ext4 inode tables, about 3% of the partition; as holes they
// take no scratch space. Zeros lists those ranges: a device holds old data
// there and must be given the zeros.
type holeFile struct {
	*os.File
	mu    sync.Mutex
	zeros []Extent
}

func (h *holeFile) WriteAt(b []byte, off int64) (int, error) {
	if len(b) < 4096 || !zero.All(b) || punchHole(h.File, off, int64(len(b))) != nil {
		return h.File.WriteAt(b, off)
	}
	h.mu.Lock()
	h.zeros = append(h.zeros, Extent{Offset: off, Length: int64(len(b))})
	h.mu.Unlock()
	return len(b), nil
}

// storage is what go-diskfs writes through.
func (b *builder) storage() fs.File {
	if !b.deferSrc {
		return b.f
	}
	b.holes = &holeFile{File: b.f}
	return b.holes
}

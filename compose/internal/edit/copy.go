package edit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
)

// Extent is a run of device bytes a file's content goes to.
type Extent struct{ Off, Len int64 }

// Copier writes the content of an update's files, counting it for
// Options.Progress: the one content loop of both editors.
type Copier struct {
	Opt         Options
	Done, Total int64 // content bytes written so far, and in all
}

// Copy writes size bytes read from r to ext (in file order) through write,
// in writes of at most Opt.ChunkSize() rounded up to block; with block > 1
// the last block's tail is written as zeros. It checks ctx before every
// write, fails when r holds fewer or more than size bytes, and returns the
// content's SHA-256 in hex. name is the file's path, for errors.
func (c *Copier) Copy(ctx context.Context, name string, size int64, r io.Reader, ext []Extent, block int64, write func(b []byte, off int64) error) (string, error) {
	buf := make([]byte, min(roundUp(c.Opt.ChunkSize(), block), max(roundUp(size, block), 1)))
	h := sha256.New()
	left := size
	for _, e := range ext {
		off := e.Off
		for l := min(e.Len, roundUp(left, block)); l > 0; {
			if err := ctx.Err(); err != nil {
				return "", err
			}
			b := buf[:min(l, int64(len(buf)))]
			k := min(int64(len(b)), left)
			if _, err := io.ReadFull(r, b[:k]); err != nil {
				return "", fmt.Errorf("reading the new %s: %w", name, err)
			}
			clear(b[k:]) // the last block's tail
			h.Write(b[:k])
			if err := write(b, off); err != nil {
				return "", fmt.Errorf("writing %s: %w", name, err)
			}
			off, l, left = off+int64(len(b)), l-int64(len(b)), left-k
			c.Done += k
			if c.Opt.Progress != nil {
				c.Opt.Progress(c.Done, c.Total)
			}
		}
	}
	if k, _ := r.Read(buf[:1]); k > 0 {
		return "", fmt.Errorf("the new %s is longer than its declared %d bytes", name, size)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func roundUp(n, block int64) int64 { return (n + block - 1) / block * block }

package disk

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/usbkit/compose/compose/internal/zero"
	"github.com/usbkit/compose/config/crash"
	"golang.org/x/sync/errgroup"
)

const (
	chunkSize = 8 << 20 // large writes: go-diskfs and the kernel both like them
	chunkBufs = 4       // 32 MiB in flight, whatever the file size
)

type chunk struct {
	buf  []byte
	off  int64
	refs atomic.Int32
}

// sink writes b at file offset off; zero says b is all zeros, which a sink
// on a fresh sparse image may skip.
type sink func(b []byte, off int64, zero bool) error

// pump copies size bytes from src to write, hashing them with SHA-256 on
// the way. Reading, hashing and writing run concurrently.
func pump(ctx context.Context, src io.Reader, size int64, write sink, progress func(done int64)) ([]byte, error) {
	g, gctx := errgroup.WithContext(ctx)
	free := make(chan []byte, chunkBufs)
	for range chunkBufs {
		free <- make([]byte, chunkSize)
	}
	toHash, toWrite := make(chan *chunk, chunkBufs), make(chan *chunk, chunkBufs)
	release := func(c *chunk) {
		if c.refs.Add(-1) == 0 {
			free <- c.buf[:cap(c.buf)]
		}
	}
	g.Go(safe("reading the source", func() error { return readChunks(gctx, src, size, free, toHash, toWrite) }))
	h := sha256.New()
	g.Go(safe("hashing", func() error {
		for c := range toHash {
			h.Write(c.buf)
			release(c)
		}
		return nil
	}))
	g.Go(safe("writing", func() error {
		var done int64
		for c := range toWrite {
			if gctx.Err() == nil {
				if err := write(c.buf, c.off, zero.All(c.buf)); err != nil {
					release(c)
					drain(toWrite, release)
					return err
				}
				done += int64(len(c.buf))
				progress(done)
			}
			release(c)
		}
		return gctx.Err()
	}))
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// safe is fn with a panic (a bug) returned as an internal error: errgroup
// then cancels gctx, and the pump's other goroutines stop on it.
func safe(what string, fn func() error) func() error {
	return func() (err error) {
		defer crash.Recover(&err, "%s", what)
		return fn()
	}
}

func drain(ch chan *chunk, release func(*chunk)) {
	for c := range ch {
		release(c)
	}
}

func readChunks(ctx context.Context, src io.Reader, size int64, free chan []byte, outs ...chan *chunk) error {
	defer func() {
		for _, o := range outs {
			close(o)
		}
	}()
	for off := int64(0); off < size; {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		n := min(int64(len(buf)), size-off)
		if _, err := io.ReadFull(src, buf[:n]); err != nil {
			return fmt.Errorf("reading at %d of %d bytes: %w", off, size, err)
		}
		c := &chunk{buf: buf[:n], off: off}
		c.refs.Store(int32(len(outs)))
		for _, o := range outs {
			select {
			case o <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		off += n
	}
	return nil
}

package converge

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/usbkit/compose/compose/internal/directio"
)

// Verify's reads: large, so that each is one trip to the device, and one
// aligned block short of directio's largest read, so that each is one
// direct read wherever the file starts (a file on the ESP starts at any
// 512-byte sector). The reader fills the next buffer while the hasher
// hashes the last: a ring of a few keeps both busy.
const verifyChunk = 4<<20 - directio.Align

const verifyRing = 4

// chunk is one read of a job's file.
type chunk struct {
	job int
	buf []byte
	n   int
	err error
}

// hashAll reads every job's file whole, in order, and hashes it; each
// file's result goes to its VerifiedFile. Reading runs in its own
// goroutine, one chunk ahead of hashing or more. Only cancellation is an
// error: a read error marks its file unreadable.
func hashAll(ctx context.Context, jobs []fileJob, res *Verification, ring int, report func(done, total int64, path string)) error {
	if ring <= 0 {
		ring = verifyRing
	}
	var total int64
	for _, j := range jobs {
		total += j.r.Size()
	}
	free := make(chan []byte, ring)
	for range ring {
		free <- make([]byte, verifyChunk)
	}
	full := make(chan chunk, ring)
	go readJobs(ctx, jobs, free, full)
	var done int64
	failed := make([]error, len(jobs))
	for c := range full {
		j := jobs[c.job]
		j.h.Write(c.buf[:c.n])
		free <- c.buf
		done += int64(c.n)
		if c.err != nil {
			failed[c.job] = c.err
		}
		if report != nil {
			report(done, total, res.Files[j.file].Path)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i, j := range jobs {
		f := &res.Files[j.file]
		if failed[i] != nil {
			f.Status, f.Error = StatusUnreadable, failed[i].Error()
			continue
		}
		f.Actual, f.Status = hex.EncodeToString(j.h.Sum(nil)), StatusOK
		if f.Actual != f.Expected {
			f.Status = StatusChanged
		}
	}
	res.BytesRead += done
	return nil
}

// readJobs reads the jobs' files chunk by chunk into free buffers and
// sends them to full, which it closes when done or cancelled. A read
// error ends its file (the chunk carries it) and reading goes on with the
// next.
func readJobs(ctx context.Context, jobs []fileJob, free chan []byte, full chan<- chunk) {
	defer close(full)
	for i, j := range jobs {
		size := j.r.Size()
		for off := int64(0); off < size; {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			want := int(min(int64(len(buf)), size-off))
			n, err := j.r.ReadAt(buf[:want], off)
			if err == io.EOF && n == want {
				err = nil
			}
			if err == nil && n < want {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				err = fmt.Errorf("at byte %d: %w", off+int64(n), err)
			}
			full <- chunk{job: i, buf: buf, n: n, err: err}
			if err != nil {
				break
			}
			off += int64(n)
		}
	}
}

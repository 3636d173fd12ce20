package device

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
)

// testHookBeforeVerify lets tests change the device behind the writer's
// back to prove that verification reads the device.
var testHookBeforeVerify func(device string)

// job is one target being written.
type job struct {
	t       *target
	res     *Result
	emit    func(Event)
	patches []patch
	regions []span // per-device: tail region(s), then the head last
	total   int64
	written int64
	in      chan *chunk

	mu  sync.Mutex // the writers of one job share these
	err error
}

// chunk is one piece of the image body shared by every job.
type chunk struct {
	off  int64
	data []byte
	refs atomic.Int32
}

func (j *job) fail(err error) {
	j.res.Err = err
	j.emit(Event{Device: j.res.Device, Phase: PhaseFailed, Err: err})
}

// prepare opens and re-checks one target and wipes its old partition
// tables; nil (with the result filled in) when the target is refused.
func prepare(ctx context.Context, img *image, path string, opts WriteOptions, emit func(Event), res *Result) *job {
	j := &job{res: res, emit: emit}
	if err := ctx.Err(); err != nil {
		j.fail(fmt.Errorf("%s: nothing written: %w", path, err))
		return nil
	}
	t, err := openTarget(path, opts.Direct)
	if err == nil {
		err = checked(t, opts.Checked)
		if err == nil {
			err = recheck(t, img, opts)
		}
		if err != nil {
			t.f.Close()
		}
	}
	if err != nil {
		j.fail(err)
		return nil
	}
	j.t, res.Direct = t, t.direct
	j.layout(img)
	if err := j.wipe(img); err != nil {
		t.f.Close()
		j.fail(incomplete(path, err))
		return nil
	}
	emit(Event{Device: path, Phase: PhaseOpen, Total: j.total})
	return j
}

// checked refuses t when it is not the device checked under its path.
func checked(t *target, devs []Device) error {
	for _, d := range devs {
		if d.Path == t.path {
			return sameDevice(d, t.devnum)
		}
	}
	return nil
}

// recheck runs Check again on the device behind the open file, so what was
// checked is what gets written.
func recheck(t *target, img *image, opts WriteOptions) error {
	d := Device{Path: t.path}
	if t.devnum != "" {
		s, err := readSnapshot(opts.Root)
		if err != nil {
			return fmt.Errorf("re-checking %s: %w", t.path, err)
		}
		if d, err = s.byDevnum(t.devnum, t.path); err != nil {
			return fmt.Errorf("re-checking %s: %w", t.path, err)
		}
		d.Size = t.size
	}
	if err := Check(d, img.size, opts.Check); err != nil {
		return err
	}
	ss := int64(t.sectorSize)
	if img.gpt != nil && img.gpt.sectorSize != t.sectorSize {
		return fmt.Errorf("%s has %d-byte sectors but the image's GPT uses %d", t.path, ss, img.gpt.sectorSize)
	}
	if ss > align || img.size%ss != 0 || t.size%ss != 0 {
		return fmt.Errorf("%s: sector size %d does not divide image size %d", t.path, ss, img.size)
	}
	return nil
}

// layout decides the per-device regions: with a GPT, the image's last MiB
// and the device's last MiB (one region when they touch), then the head.
func (j *job) layout(img *image) {
	if img.gpt != nil {
		j.patches = img.gpt.patchesFor(j.t.size)
		devTail := span{max(img.tail.Off, j.t.size-edgeSize), j.t.size}
		if devTail.Off <= img.tail.End {
			j.regions = append(j.regions, span{img.tail.Off, j.t.size})
		} else {
			j.regions = append(j.regions, img.tail, devTail)
		}
	}
	j.regions = append(j.regions, img.head)
	j.total = img.bodyBytes()
	for _, r := range j.regions {
		j.total += r.len()
	}
}

// wipe zeroes the first and last MiB and flushes, so that until the head
// is written last the device shows no partition table, old or new.
func (j *job) wipe(img *image) error {
	zero := make([]byte, edgeSize)
	end := span{max(img.head.End, j.t.size-edgeSize), j.t.size}
	for _, s := range []span{img.head, end} {
		if s.len() <= 0 {
			continue
		}
		buf := alignedBuf(int(s.len()))
		copy(buf, zero)
		if _, err := j.t.f.WriteAt(buf, s.Off); err != nil {
			return fmt.Errorf("wiping old partition table at %d: %w", s.Off, err)
		}
	}
	return j.t.sync()
}

// consume writes the shared body chunks; after a failure it only releases
// them, so the other devices go on.
func (j *job) consume(ctx context.Context, free chan<- []byte) {
	for c := range j.in {
		j.writeChunk(ctx, c.off, c.data)
		c.release(free)
	}
}

func (c *chunk) release(free chan<- []byte) {
	if c.refs.Add(-1) == 0 {
		free <- c.data[:cap(c.data)]
	}
}

// writeChunk writes one chunk unless the job failed already; it is called
// by several goroutines at once.
func (j *job) writeChunk(ctx context.Context, off int64, data []byte) {
	j.mu.Lock()
	failed := j.err != nil
	j.mu.Unlock()
	if failed {
		return
	}
	err := ctx.Err()
	if err == nil {
		if _, werr := j.t.f.WriteAt(data, off); werr != nil {
			err = fmt.Errorf("writing at offset %d: %w", off, werr)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		if j.err == nil {
			j.err = incomplete(j.t.path, err)
		}
		return
	}
	j.written += int64(len(data))
	j.emit(Event{Device: j.t.path, Phase: PhaseWrite, Done: j.written, Total: j.total})
}

// Pipeline shape: nbuf chunks in flight between the reader and the
// writers, and depth writes in flight per device so it never idles
// between two writes (dd leaves it idle while it reads the next block).
const (
	nbuf  = 6
	depth = 2
)

// broadcast reads the image body once and hands every chunk to every job
// and to a hasher; it returns the SHA-256 state of the body for the jobs
// to continue.
func broadcast(ctx context.Context, img *image, jobs []*job, chunkSize int) []byte {
	if len(jobs) == 0 {
		return nil
	}
	free := make(chan []byte, nbuf)
	for range nbuf {
		free <- alignedBuf(chunkSize)
	}
	var wg sync.WaitGroup
	for _, j := range jobs {
		j.in = make(chan *chunk, nbuf)
		for range depth {
			wg.Add(1)
			go func() {
				defer wg.Done()
				j.consume(ctx, free)
			}()
		}
	}
	h := sha256.New()
	hin := make(chan *chunk, nbuf)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for c := range hin {
			h.Write(c.data)
			c.release(free)
		}
	}()
	err := readBody(ctx, img, chunkSize, free, func(off int64, data []byte) {
		c := &chunk{off: off, data: data}
		c.refs.Store(int32(len(jobs) + 1))
		hin <- c
		for _, j := range jobs {
			j.in <- c
		}
	})
	close(hin)
	for _, j := range jobs {
		close(j.in)
	}
	wg.Wait()
	for _, j := range jobs {
		if j.err == nil && err != nil {
			j.err = incomplete(j.t.path, err)
		}
	}
	state, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	return state
}

func readBody(ctx context.Context, img *image, chunkSize int, free chan []byte, send func(int64, []byte)) error {
	for _, s := range img.body {
		for off := s.Off; off < s.End; off += int64(chunkSize) {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return ctx.Err()
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			buf = buf[:min(int64(chunkSize), s.End-off)]
			if err := img.read(buf, off); err != nil {
				return err
			}
			send(off, buf)
		}
	}
	return img.readTail()
}

// read fills buf with the image's bytes at off, with the streamed files'
// bytes laid in.
func (img *image) read(buf []byte, off int64) error {
	if img.ov != nil {
		return img.ov.read(img.f, buf, off)
	}
	if _, err := img.f.ReadAt(buf, off); err != nil && err != io.EOF {
		return fmt.Errorf("reading image at offset %d: %w", off, err)
	}
	return nil
}

// readTail reads the tail region with the files' bytes laid in, after the
// body so every source is read front to back, and checks each file's
// digest: a mismatch fails every device before its head is written.
func (img *image) readTail() error {
	if img.ov == nil {
		return nil
	}
	img.ov.tail = make([]byte, img.tail.len())
	if err := img.ov.read(img.f, img.ov.tail, img.tail.Off); err != nil {
		return err
	}
	return img.ov.verify()
}

// finish writes the per-device regions (head last), flushes, re-reads the
// partition table and verifies.
func (j *job) finish(ctx context.Context, img *image, state []byte, opts WriteOptions) {
	defer j.t.f.Close()
	defer func() { j.res.Written = j.written }()
	if j.err != nil {
		j.fail(j.err)
		return
	}
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
		j.fail(incomplete(j.t.path, err))
		return
	}
	for i, r := range j.regions {
		if i == len(j.regions)-1 {
			if err := j.t.sync(); err != nil { // everything else is on the device before the head
				j.fail(incomplete(j.t.path, fmt.Errorf("flushing: %w", err)))
				return
			}
		}
		buf, err := j.regionBytes(img, r)
		if err != nil {
			j.fail(incomplete(j.t.path, err))
			return
		}
		if j.writeChunk(ctx, r.Off, buf); j.err != nil {
			j.fail(j.err)
			return
		}
		h.Write(buf)
	}
	j.emit(Event{Device: j.t.path, Phase: PhaseSync, Done: j.written, Total: j.total})
	if err := j.t.sync(); err != nil {
		j.fail(incomplete(j.t.path, fmt.Errorf("flushing: %w", err)))
		return
	}
	if err := j.t.rereadPartitions(); err != nil {
		j.warn(fmt.Sprintf("the kernel did not re-read the partition table (%v); replug the device", err))
	}
	sum := h.Sum(nil)
	j.res.SHA256 = hex.EncodeToString(sum)
	if !opts.NoVerify {
		if testHookBeforeVerify != nil {
			testHookBeforeVerify(j.t.path)
		}
		if err := j.verify(ctx, img, sum, opts.ChunkSize); err != nil {
			j.fail(err)
			return
		}
		j.res.Verified = true
	}
	j.res.Complete = true
	j.emit(Event{Device: j.t.path, Phase: PhaseDone, Done: j.written, Total: j.total})
}

func (j *job) warn(msg string) {
	j.res.Warnings = append(j.res.Warnings, msg)
	j.emit(Event{Device: j.t.path, Phase: PhaseWarning, Message: msg})
}

// regionBytes is the image's bytes for r (zeros past its end) with the GPT
// patches laid over them.
func (j *job) regionBytes(img *image, r span) ([]byte, error) {
	buf := alignedBuf(int(r.len()))
	switch n := min(r.End, img.size) - r.Off; {
	case n <= 0:
	case img.ov != nil && img.tail.len() > 0 && r.Off >= img.tail.Off:
		copy(buf[:n], img.ov.tail[r.Off-img.tail.Off:])
	default:
		if _, err := img.f.ReadAt(buf[:n], r.Off); err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading image at offset %d: %w", r.Off, err)
		}
	}
	for _, p := range j.patches {
		lo, hi := max(p.off, r.Off), min(p.off+int64(len(p.data)), r.End)
		if lo < hi {
			copy(buf[lo-r.Off:hi-r.Off], p.data[lo-p.off:hi-p.off])
		}
	}
	return buf, nil
}

// verify reads back every written range in write order, from the device
// and not the page cache, and compares the digest.
func (j *job) verify(ctx context.Context, img *image, want []byte, chunkSize int) error {
	if !j.t.direct {
		if err := j.t.dropCache(); err != nil {
			return fmt.Errorf("%s: cannot bypass the page cache to verify: %w", j.t.path, err)
		}
	}
	h := sha256.New()
	buf := alignedBuf(chunkSize)
	var done int64
	for _, s := range append(append([]span(nil), img.body...), j.regions...) {
		for off := s.Off; off < s.End; off += int64(chunkSize) {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("%s: %w: verification interrupted: %w", j.t.path, ErrIncomplete, err)
			}
			b := buf[:min(int64(chunkSize), s.End-off)]
			if _, err := j.t.f.ReadAt(b, off); err != nil {
				return fmt.Errorf("%s: %w: reading back at offset %d: %w", j.t.path, ErrVerify, off, err)
			}
			h.Write(b)
			done += int64(len(b))
			j.emit(Event{Device: j.t.path, Phase: PhaseVerify, Done: done, Total: j.total})
		}
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%s: %w: the device returned other data than was written (sha256 %x, wrote %x)", j.t.path, ErrVerify, got, want)
	}
	return nil
}

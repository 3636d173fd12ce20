package fetch

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/usbkit/compose/config/digest"
)

const partialSuffix = ".partial"

func (f *Fetcher) finalPath(alg, digest string) string {
	return filepath.Join(f.opts.CacheDir, alg, digest)
}

// partial is a locked, unverified download and the hash of its bytes so far.
type partial struct {
	f       *os.File
	path    string
	h       hash.Hash
	n       int64 // bytes written and hashed
	flushed int64 // bytes whose writeback to disk was started
	resumed bool  // the bytes include a prefix from an earlier attempt or run
}

// writebackChunk is how much dirty data a download accumulates before it
// starts writing it back.
const writebackChunk = 8 << 20

// openPartial opens and locks <final>.partial, the lock every change of
// the entry's name is made under: a download and its rename into place,
// and the removal of a bad entry (evictIf). It waits (polling, so ctx can
// end the wait) while another process or goroutine holds the lock, saying
// so once through a Wait event, and makes sure the locked file is still
// the one at that name: the holder may have renamed it into place
// meanwhile.
func (f *Fetcher) openPartial(ctx context.Context, src Source) (*partial, error) {
	path := f.finalPath(src.Algorithm, src.Digest) + partialSuffix
	h, err := digest.New(src.Algorithm)
	if err != nil {
		return nil, err
	}
	if err := makeCacheDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	told := false
	for {
		// never through a symlink: in a shared directory it could point at
		// any file the caller may write
		fh, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|oNoFollow, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", path, err)
		}
		if fi, err := fh.Stat(); err != nil || !fi.Mode().IsRegular() {
			fh.Close()
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrBadEntry, path)
		}
		if err := f.lockFile(ctx, fh, src.Name, &told); err != nil {
			fh.Close()
			return nil, err
		}
		if sameFile(fh, path) {
			return &partial{f: fh, path: path, h: h}, nil
		}
		fh.Close()
	}
}

func (f *Fetcher) lockFile(ctx context.Context, fh *os.File, name string, told *bool) error {
	for {
		busy, err := tryLock(fh)
		if err != nil {
			return fmt.Errorf("locking %s: %w", fh.Name(), err)
		}
		if !busy {
			return nil
		}
		if !*told {
			*told = true
			f.emit(Event{Name: name, Kind: Wait, Msg: waitMessage(lockHolder(fh), name, fh.Name())})
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// waitMessage says who holds a cache entry's lock: another compose
// downloading it (or checking it, before removing it as bad), or, for two
// entries of one manifest with the same digest, this run.
func waitMessage(pid int, name, lock string) string {
	switch pid {
	case os.Getpid():
		return fmt.Sprintf("waiting: this run is already downloading the file of %s for another entry", name)
	case 0:
		return fmt.Sprintf("waiting for another compose downloading or checking %s (it holds %s)", name, lock)
	}
	return fmt.Sprintf("waiting for another compose (pid %d) downloading or checking %s", pid, name)
}

func sameFile(fh *os.File, path string) bool {
	a, err1 := fh.Stat()
	b, err2 := os.Lstat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// hashPrefix hashes what an earlier run left, so the download can go on
// from there with a single pass over every byte.
func (p *partial) hashPrefix(size int64) error {
	fi, err := p.f.Stat()
	if err != nil {
		return err
	}
	n := fi.Size()
	if n == 0 || (size > 0 && n > size) {
		return p.reset()
	}
	buf := make([]byte, copyBufSize)
	if _, err := io.CopyBuffer(p.h, io.NewSectionReader(p.f, 0, n), buf); err != nil {
		return fmt.Errorf("hashing the partial download: %w", err)
	}
	p.n, p.flushed, p.resumed = n, n, true
	return nil
}

// write appends b at the current end and hashes it.
func (p *partial) write(b []byte) error {
	if _, err := p.f.WriteAt(b, p.n); err != nil {
		return err
	}
	p.h.Write(b)
	p.n += int64(len(b))
	if p.n-p.flushed >= writebackChunk {
		startWriteback(p.f.Fd(), p.flushed, p.n-p.flushed)
		p.flushed = p.n
	}
	return nil
}

// reset throws the bytes away: the next byte written is byte 0 again.
func (p *partial) reset() error {
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("truncating the partial download: %w", err)
	}
	p.h.Reset()
	p.n, p.flushed, p.resumed = 0, 0, false
	return nil
}

func (p *partial) sum() string { return hex.EncodeToString(p.h.Sum(nil)) }

// commit syncs the data and renames it into place read-only; before the
// rename the file only ever exists under its .partial name.
func (p *partial) commit(final string) error {
	if err := p.f.Sync(); err != nil {
		return err
	}
	if err := p.f.Chmod(0o444); err != nil {
		return err
	}
	if err := os.Rename(p.path, final); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(final)); err == nil {
		d.Sync() // best effort: without it a crash may only bring the .partial name back
		d.Close()
	}
	return nil
}

// discard deletes the partial download; the lock goes with the last close.
func (p *partial) discard() {
	os.Remove(p.path)
}

// release unlocks a partial taken only to change the entry's name: an
// empty one goes, one holding an earlier run's bytes stays to be resumed.
func (p *partial) release() {
	if fi, err := p.f.Stat(); err == nil && fi.Size() == 0 {
		p.discard()
	}
	p.close()
}

func (p *partial) close() { p.f.Close() }

package disk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/ext4"
	"github.com/diskfs/go-diskfs/filesystem/fat32"
	"github.com/diskfs/go-diskfs/partition/gpt"
)

// ErrMismatch is returned (wrapped) when an image differs from its Layout.
var ErrMismatch = errors.New("image does not match its layout")

// VerifyOptions tunes Verify.
type VerifyOptions struct {
	// SkipFiles checks only the partition table.
	SkipFiles bool
	// Digests are expected SHA-256s (hex) keyed "partition:path", as
	// Result.Digests returns; files missing here are hashed from their
	// sources.
	Digests map[string]string
	// Progress receives EventVerify events.
	Progress func(Event)
}

// Verify re-opens the image at path, checks its GPT against l and reads
// every placed file back through go-diskfs, comparing SHA-256 digests.
func Verify(ctx context.Context, path string, l Layout, opt VerifyOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	defer f.Close()
	return verifyOpen(ctx, f, l, opt)
}

func verifyOpen(ctx context.Context, f *os.File, l Layout, opt VerifyOptions) error {
	if opt.Progress == nil {
		opt.Progress = func(Event) {}
	}
	be := file.New(f, true)
	if err := verifyTable(be, l); err != nil {
		return err
	}
	if opt.SkipFiles {
		return nil
	}
	v := &verifier{ctx: ctx, opt: opt, total: totalBytes(l)}
	for i := range l.Partitions {
		if err := v.partition(be, &l.Partitions[i]); err != nil {
			return err
		}
	}
	return nil
}

func verifyTable(be backend.Storage, l Layout) error {
	d, err := diskfs.OpenBackend(be)
	if err != nil {
		return fmt.Errorf("opening image: %w", err)
	}
	if d.Size < l.Size {
		return fmt.Errorf("%w: image is %d bytes, layout %d", ErrMismatch, d.Size, l.Size)
	}
	pt, err := d.GetPartitionTable()
	if err != nil {
		return fmt.Errorf("reading partition table: %w", err)
	}
	t, ok := pt.(*gpt.Table)
	if !ok || t.RecoveredFromBackup {
		return fmt.Errorf("%w: no valid primary GPT", ErrMismatch)
	}
	if !strings.EqualFold(t.GUID, l.DiskGUID) {
		return fmt.Errorf("%w: disk GUID %s, want %s", ErrMismatch, t.GUID, l.DiskGUID)
	}
	var got []*gpt.Partition
	for _, p := range t.Partitions {
		if p.Type != gpt.Unused {
			got = append(got, p)
		}
	}
	if len(got) != len(l.Partitions) {
		return fmt.Errorf("%w: %d partitions, want %d", ErrMismatch, len(got), len(l.Partitions))
	}
	for i, w := range l.Partitions {
		g := got[i]
		if g.Start != w.FirstLBA || g.End != w.LastLBA || !strings.EqualFold(string(g.Type), w.Type) ||
			!strings.EqualFold(g.GUID, w.GUID) || g.Name != w.Name {
			return fmt.Errorf("%w: partition %d is %s %q %d-%d guid %s, want %s %q %d-%d guid %s", ErrMismatch, w.Index,
				g.Type, g.Name, g.Start, g.End, g.GUID, w.Type, w.Name, w.FirstLBA, w.LastLBA, w.GUID)
		}
	}
	return nil
}

type verifier struct {
	ctx   context.Context
	opt   VerifyOptions
	total int64
	done  int64
}

func (v *verifier) partition(be backend.Storage, p *Partition) error {
	var (
		fs  filesystem.FileSystem
		err error
	)
	name := func(s string) string { return s }
	if p.keep { // the user's data, not compose's: nothing to compare it with
		return nil
	}
	switch p.FS {
	case FSFAT32:
		fs, err = fat32.Read(be, p.Size, p.Offset, sectorSize)
	case FSExt4:
		fs, err = ext4.Read(be, p.Size, p.Offset, sectorSize)
		name = extPath
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("partition %d: reading %s: %w", p.Index, p.FS, err)
	}
	for _, f := range p.Files {
		if err := v.file(fs, p, f, name(f.Path)); err != nil {
			return fmt.Errorf("partition %d: %s: %w", p.Index, f.Path, err)
		}
	}
	return nil
}

func (v *verifier) file(fs filesystem.FileSystem, p *Partition, f File, name string) error {
	want, err := v.expected(p, f)
	if err != nil {
		return err
	}
	h, err := fs.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMismatch, err)
	}
	defer h.Close()
	if f.size() == 0 {
		return checkEmpty(h, want)
	}
	ev := Event{Kind: EventVerify, Path: f.Path, Partition: p.Index, Total: f.size(), AllTotal: v.total}
	base := v.done
	got, n, err := hashReader(v.ctx, h, func(n int64) {
		ev.Done, ev.AllDone = n, base+n
		v.opt.Progress(ev)
	})
	if err != nil {
		return err
	}
	v.done = base + f.size()
	if n != f.size() || got != want {
		return fmt.Errorf("%w: read back %d bytes sha256 %s, want %d bytes sha256 %s", ErrMismatch, n, got, f.size(), want)
	}
	return nil
}

func (v *verifier) expected(p *Partition, f File) (string, error) {
	if d, ok := v.opt.Digests[fmt.Sprintf("%d:%s", p.Index, f.Path)]; ok {
		return d, nil
	}
	if f.SHA256 != "" {
		return strings.ToLower(f.SHA256), nil
	}
	r, err := open(f)
	if err != nil {
		return "", err
	}
	defer r.Close()
	d, _, err := hashReader(v.ctx, r, func(int64) {})
	return d, err
}

// hashReader hashes r in large reads (go-diskfs reads cluster by cluster
// per call, so big calls keep its overhead down).
func hashReader(ctx context.Context, r io.Reader, progress func(int64)) (string, int64, error) {
	h := sha256.New()
	buf := make([]byte, chunkSize)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return "", n, err
		}
		k, err := r.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if k > 0 {
			progress(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", n, err
		}
		if k == 0 {
			return "", n, fmt.Errorf("read returned no data at %d", n)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// checkEmpty avoids reading an empty FAT file: go-diskfs v1.9.4 fails to
// read a file whose first cluster is 0, which is what an empty file has.
func checkEmpty(h filesystem.File, want string) error {
	st, err := h.Stat()
	if err != nil {
		return err
	}
	if empty := hex.EncodeToString(sha256.New().Sum(nil)); st.Size() != 0 || want != empty {
		return fmt.Errorf("%w: %d bytes, want 0 bytes sha256 %s", ErrMismatch, st.Size(), want)
	}
	return nil
}

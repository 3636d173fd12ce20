package disk

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/backend"
	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/partition/gpt"
	"github.com/usbkit/compose/compose/internal/stale"
	"github.com/usbkit/compose/config/atomicfile"
)

// Result describes a built image.
type Result struct {
	Layout Layout
	Files  []Placed
	// Zeros are ranges a deferred build (Spec.Defer) left as holes where
	// go-diskfs wrote zeros (ext4 inode tables): a writer to a device must
	// write them as zeros.
	Zeros []Extent
}

// Placed is one file as written.
type Placed struct {
	Path      string
	Partition int // GPT index
	Size      int64
	// SHA256 (hex) was computed while copying, or is File.SHA256 when the
	// caller declared it (then Build did not hash; Verify checks it).
	SHA256 string
	// Extents are the file's byte ranges in the image, in file order:
	// always for FAT32, for ext4 only when Deferred.
	Extents []Extent
	// Deferred is set for a host file Spec.Defer left out: its blocks are
	// allocated at Extents but hold no bytes yet. Source, Algorithm and
	// Digest are the File's, for whoever writes them.
	Deferred                  bool
	Source, Algorithm, Digest string
}

// Extent is a byte range in the image.
type Extent struct{ Offset, Length int64 }

// Digests maps volume paths to the SHA-256 recorded at build time, for
// VerifyOptions.
func (r Result) Digests() map[string]string {
	m := make(map[string]string, len(r.Files))
	for _, f := range r.Files {
		if f.SHA256 != "" { // a File.Copy file: Verify hashes its Open
			m[fmt.Sprintf("%d:%s", f.Partition, f.Path)] = f.SHA256
		}
	}
	return m
}

// Build writes the image described by spec to path. See the package
// documentation for the guarantees on failure and cancellation.
func Build(ctx context.Context, path string, spec Spec, progress func(Event)) (Result, error) {
	// Named after the image and this process, so that one left by SIGKILL
	// is recognisable and collected by the next build of the same image.
	prefix := "." + filepath.Base(path) + "."
	stale.Collect(filepath.Dir(path), prefix, "apply", ".tmp")
	tmp, err := os.CreateTemp(filepath.Dir(path), stale.Pattern(prefix, "apply", ".tmp"))
	if err != nil {
		return Result{}, fmt.Errorf("creating image: %w", err)
	}
	res, err := BuildFile(ctx, tmp, spec, progress)
	if err == nil {
		err = commit(tmp, path)
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return Result{}, err
	}
	return res, nil
}

// BuildFile writes the image described by spec into f, an empty file the
// caller created, and reads it back when spec.Verify. Naming it is the
// caller's: compose renames it into place through a directory it holds
// open, so that the path it checked is the one it replaces.
func BuildFile(ctx context.Context, f *os.File, spec Spec, progress func(Event)) (Result, error) {
	if progress == nil {
		progress = func(Event) {}
	}
	l, err := ComputeLayout(spec)
	if err != nil {
		return Result{}, err
	}
	if err := checkSources(l); err != nil {
		return Result{}, err
	}
	b := &builder{ctx: ctx, f: f, l: &l, progress: progress, total: totalBytes(withoutDeferred(l, spec.Defer)), deferSrc: spec.Defer}
	if err := b.build(); err != nil {
		return Result{}, err
	}
	res := Result{Layout: l, Files: b.placed}
	if b.holes != nil {
		res.Zeros = b.holes.zeros
	}
	if spec.Verify {
		opt := VerifyOptions{Digests: res.Digests(), Progress: progress}
		if err := verifyOpen(ctx, f, withoutDeferred(l, spec.Defer), opt); err != nil {
			return Result{}, fmt.Errorf("verifying the new image: %w", err)
		}
	}
	return res, nil
}

// checkSources fails before any write when a host file is missing or its
// size is not the declared one (a changed file would not fit the layout).
func checkSources(l Layout) error {
	for _, p := range l.Partitions {
		for _, f := range p.Files {
			if f.Source == "" {
				continue
			}
			st, err := os.Stat(f.Source)
			if err != nil {
				return fmt.Errorf("%s: %w", f.Path, err)
			}
			if !st.Mode().IsRegular() || st.Size() != f.Size {
				return fmt.Errorf("%s: source %s is %d bytes, declared %d", f.Path, f.Source, st.Size(), f.Size)
			}
		}
	}
	return nil
}

func totalBytes(l Layout) int64 {
	var n int64
	for _, p := range l.Partitions {
		for _, f := range p.Files {
			n += f.size()
		}
	}
	return n
}

// commit makes the temporary image durable and gives it its name, under
// config/atomicfile's mode rule: an image it replaces keeps its mode; a
// new one is 0644.
func commit(tmp *os.File, path string) error {
	if err := atomicfile.Commit(tmp, path); err != nil {
		return fmt.Errorf("putting the image in place: %w", err)
	}
	return nil
}

type builder struct {
	ctx      context.Context
	f        *os.File
	be       backend.Storage
	l        *Layout
	progress func(Event)
	total    int64
	done     int64
	placed   []Placed
	deferSrc bool      // Spec.Defer
	holes    *holeFile // the deferred build's writes, zeros punched as holes
}

func (b *builder) build() error {
	if err := b.f.Truncate(b.l.Size); err != nil {
		return fmt.Errorf("sizing image to %d bytes: %w", b.l.Size, err)
	}
	b.be = file.New(b.storage(), false)
	if err := b.partition(); err != nil {
		return err
	}
	for i := range b.l.Partitions {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if err := b.fill(&b.l.Partitions[i]); err != nil {
			return fmt.Errorf("partition %d (%s): %w", b.l.Partitions[i].Index, b.l.Partitions[i].Name, err)
		}
	}
	if len(b.l.bootCode) > 0 {
		if _, err := b.f.WriteAt(b.l.bootCode, 0); err != nil {
			return fmt.Errorf("writing boot code: %w", err)
		}
	}
	return nil
}

func (b *builder) fill(p *Partition) error {
	switch p.FS {
	case FSRaw:
		_, err := b.f.WriteAt(b.l.biosBoot, p.Offset)
		return err
	case FSFAT32:
		return b.fillFAT(p)
	case FSExt4:
		return b.fillExt4(p)
	}
	return fmt.Errorf("unknown file system %q", p.FS)
}

func (b *builder) partition() error {
	d, err := diskfs.OpenBackend(b.be, diskfs.WithOpenMode(diskfs.ReadWrite))
	if err != nil {
		return fmt.Errorf("opening image: %w", err)
	}
	t := &gpt.Table{LogicalSectorSize: sectorSize, PhysicalSectorSize: sectorSize, ProtectiveMBR: true, GUID: b.l.DiskGUID}
	for _, p := range b.l.Partitions {
		t.Partitions = append(t.Partitions, &gpt.Partition{Index: p.Index, Start: p.FirstLBA, End: p.LastLBA,
			Type: gpt.Type(p.Type), Name: p.Name, GUID: p.GUID})
	}
	if err := d.Partition(t); err != nil {
		return fmt.Errorf("writing partition table: %w", err)
	}
	return nil
}

// open returns a reader for a file's content.
func open(f File) (io.ReadCloser, error) {
	if f.Source != "" {
		return os.Open(f.Source)
	}
	if f.Open != nil {
		return f.Open()
	}
	return io.NopCloser(bytes.NewReader(f.Data)), nil
}

// place copies one file through write and records it.
func (b *builder) place(p *Partition, f File, write sink, ext []Extent) error {
	r, err := open(f)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	defer r.Close()
	size := f.size()
	base := b.done
	ev := Event{Kind: EventPlace, Path: f.Path, Partition: p.Index, Total: size, AllTotal: b.total}
	src, pinSum, err := pinned(f, r)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, err)
	}
	sum, err := pump(b.ctx, src, size, write, func(n int64) {
		ev.Done, ev.AllDone = n, base+n
		b.progress(ev)
	})
	if err != nil {
		return fmt.Errorf("placing %s: %w", f.Path, err)
	}
	if err := checkSum(f, pinSum(sum)); err != nil {
		return err
	}
	if size == 0 {
		ev.AllDone = base
		b.progress(ev)
	}
	b.done = base + size
	b.placed = append(b.placed, Placed{Path: f.Path, Partition: p.Index, Size: size, SHA256: hex.EncodeToString(sum), Extents: ext})
	return nil
}

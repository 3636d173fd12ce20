package device

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/usbkit/compose/compose/internal/directio"
	"github.com/usbkit/compose/config/crash"
)

// DirectMode chooses whether the device is opened with O_DIRECT.
type DirectMode int

const (
	// DirectAuto uses O_DIRECT and falls back to buffered I/O where the
	// device refuses it. Measured: as fast as buffered for large writes,
	// progress shows what reached the device, and the page cache is spared.
	DirectAuto DirectMode = iota
	DirectOn
	DirectOff
)

// Phase is the step an Event reports.
type Phase string

// Phases, in the order one device goes through them.
const (
	PhaseOpen    Phase = "open"    // opened exclusively, checked, old table wiped
	PhaseWrite   Phase = "write"   // Done of Total bytes written
	PhaseSync    Phase = "sync"    // flushing the device cache
	PhaseVerify  Phase = "verify"  // Done of Total bytes read back
	PhaseDone    Phase = "done"    // written, flushed and (unless NoVerify) verified
	PhaseFailed  Phase = "failed"  // Err says why; the device is not usable
	PhaseWarning Phase = "warning" // Message; the write goes on
)

// Event reports progress of one device.
type Event struct {
	Device  string
	Phase   Phase
	Done    int64
	Total   int64
	Message string
	Err     error
}

var (
	// ErrIncomplete marks a failure after writing began: the device holds
	// part of the image (and no valid partition table) and must be
	// rewritten.
	ErrIncomplete = errors.New("the device is incomplete")
	// ErrVerify marks a read-back that did not match what was written.
	ErrVerify = errors.New("verification failed")
)

// WriteOptions tunes Write. The zero value is the safe default.
type WriteOptions struct {
	Root      Root         // where the re-check after opening reads sysfs/proc
	Check     CheckOptions // the same options the CLI passed to Check
	NoVerify  bool         // skip reading back
	Direct    DirectMode
	ChunkSize int // bytes per write, a multiple of 4096; 0 means 4 MiB
	// Files are streamed from their sources into the image's extents
	// reserved for them (see File): the image then needs to hold only the
	// metadata.
	Files []File
	// Zeros are image ranges written even where the image has holes (zeros
	// the image builder left as holes to save space, such as ext4 inode
	// tables): a device holds old data there.
	Zeros []Extent
	// Image, when set, is the image already open: it is read through a
	// descriptor of its own duplicated from it, so that a path swapped
	// since it was built is not followed (imagePath then only names it).
	Image *os.File
	// Checked are the targets as Check saw them (and the user confirmed),
	// by Path: a target whose path leads to another device when it is
	// opened is refused.
	Checked []Device
}

// Result is the outcome for one target.
type Result struct {
	Device   string
	Complete bool   // written, flushed and verified (or NoVerify): the only "good"
	Written  int64  // bytes written, the wipe of the old table not counted
	Verified bool   // read back and matched
	Direct   bool   // O_DIRECT was used
	SHA256   string // of the bytes written, in the order written
	Warnings []string
	Err      error
}

const defaultChunk = 4 << 20

// Write writes the image at imagePath to every target at once and returns
// one Result per target, in order. See the package doc for what is written,
// in which order, and what a cancelled ctx leaves behind.
func Write(ctx context.Context, imagePath string, targets []string, opts WriteOptions, progress func(Event)) []Result {
	if opts.ChunkSize <= 0 || opts.ChunkSize%align != 0 {
		opts.ChunkSize = defaultChunk
	}
	opts.Root = opts.Root.orHost()
	emit := serialize(progress)
	results := make([]Result, len(targets))
	for i, p := range targets {
		results[i].Device = p
	}
	img, err := openImage(imagePath, opts.Image, opts.Files, opts.Zeros)
	if err != nil {
		for i := range results {
			results[i].Err = err
			emit(Event{Device: targets[i], Phase: PhaseFailed, Err: err})
		}
		return results
	}
	defer img.close()

	jobs := make([]*job, len(targets))
	parallel(len(targets), func(i int) {
		jobs[i] = prepare(ctx, img, targets[i], opts, emit, &results[i])
	}, func(i int, err error) {
		results[i].Err = err
		emit(Event{Device: targets[i], Phase: PhaseFailed, Err: err})
	})
	var live []*job
	for _, j := range jobs {
		if j != nil {
			live = append(live, j)
		}
	}
	state := broadcast(ctx, img, live, opts.ChunkSize)
	parallel(len(live), func(i int) { live[i].finish(ctx, img, state, opts) }, func(i int, err error) { live[i].fail(err) })
	return results
}

func serialize(progress func(Event)) func(Event) {
	if progress == nil {
		return func(Event) {}
	}
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		progress(e)
	}
}

// parallel runs fn(0) … fn(n-1) at once and waits for them all. A panic in
// one (a bug) reaches failed as an internal error instead of ending the
// process with devices half written.
func parallel(n int, fn func(i int), failed func(i int, err error)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := recovered(func() { fn(i) }); err != nil {
				failed(i, err)
			}
		}()
	}
	wg.Wait()
}

func recovered(fn func()) (err error) {
	defer crash.Recover(&err, "writing a device")
	fn()
	return nil
}

// incomplete wraps a failure that happened after the device was touched.
func incomplete(path string, err error) error {
	return fmt.Errorf("%s: %w: %w", path, ErrIncomplete, err)
}

// alignedBuf returns n bytes aligned for O_DIRECT.
func alignedBuf(n int) []byte { return directio.AlignedBuf(n) }

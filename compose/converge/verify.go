package converge

import (
	"context"
	"errors"
	"fmt"
	"github.com/usbkit/compose/config/plural"
	"io"
	"os"

	"github.com/usbkit/compose/compose/internal/directio"
	"github.com/usbkit/compose/config"
)

// ErrNotKit is matched (errors.Is) by Verify's error for a target that
// holds no readable compose state record: there is nothing to check it
// against.
var ErrNotKit = errors.New("not a compose kit")

// ErrDamaged is matched (errors.Is) by a *DamageError.
var ErrDamaged = errors.New("the kit on the target is damaged")

// Statuses of a VerifiedFile. Changed, missing and unreadable files are
// damage; leftovers and added files are reported, not counted as damage.
const (
	StatusOK         = "ok"
	StatusChanged    = "changed"    // its size or digest is not the recorded one
	StatusMissing    = "missing"    // the record names it; the volume has no such file
	StatusUnreadable = "unreadable" // reading it failed (Error says why)
	StatusLeftover   = "leftover"   // under /isos on the data partition, not recorded (TargetData.Leftovers)
	StatusAdded      = "added"      // any other file the record does not name
)

// ISO checks: how much of each ISO a check read. The no-op of plan and
// apply samples; Verify and apply's Verify read every byte.
const (
	ISOCheckSampled = "sampled" // its size and the SHA-256 of its first and last 64 KiB
	ISOCheckFull    = "full"    // every byte, against its whole digest
)

// Verification is what Verify found on one target.
type Verification struct {
	Target string `json:"target"`
	// Kit is the record's kit digest (KitState.Kit).
	Kit string `json:"kit"`
	// Interim is true for the interim kit of an interrupted two-step
	// apply: its record names fewer ISOs than the manifest.
	Interim bool           `json:"interim,omitempty"`
	Files   []VerifiedFile `json:"files"`
	// Damaged counts the changed, missing and unreadable files.
	Damaged int  `json:"damaged"`
	OK      bool `json:"ok"`
	// BytesRead is the file bytes read and hashed.
	BytesRead int64 `json:"bytes_read"`
	// Direct is true when the target was read with O_DIRECT, bypassing
	// the page cache; Warnings say why not where it was refused.
	Direct bool `json:"direct"`
	// Lock is the lock the ISOs were compared with, empty without one;
	// Notes say how the stick differs from it, or why none was used.
	Lock     string   `json:"lock,omitempty"`
	Notes    []string `json:"notes,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// VerifiedFile is one file of a kit as Verify found it.
type VerifiedFile struct {
	Path      string `json:"path"`
	Partition int    `json:"partition"`
	// Kind is "iso", "menu", "bootloader", "data" (another file on the
	// data partition), or "extra" for a file the record does not name.
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"` // the ISO's name
	// Size, Algorithm and Expected are the record's.
	Size      int64  `json:"size"`
	Algorithm string `json:"algorithm,omitempty"`
	Expected  string `json:"expected,omitempty"`
	// ActualSize and Actual are what the target holds; Actual is empty
	// when the file was not read whole (missing, another size, a read
	// error).
	ActualSize int64  `json:"actual_size"`
	Actual     string `json:"actual,omitempty"`
	Status     string `json:"status"`
	Error      string `json:"error,omitempty"`
	// Lock, for an ISO with VerifyOptions.Manifest: "pinned" when the
	// lock pins the recorded digest, "differs" when it pins another,
	// "absent" when it does not name the ISO.
	Lock string `json:"lock,omitempty"`
}

// Damaged is true for a changed, missing or unreadable file.
func (f VerifiedFile) Damaged() bool {
	return f.Status == StatusChanged || f.Status == StatusMissing || f.Status == StatusUnreadable
}

// DamageError says which files of a kit do not match its record.
type DamageError struct {
	Target string
	Files  []VerifiedFile // the damaged ones
}

func (e *DamageError) Error() string {
	var parts []string
	for _, f := range e.Files {
		parts = append(parts, damageLine(f))
	}
	return fmt.Sprintf("%s: %s damaged: %s", e.Target, plural.Count(len(e.Files), "file is"), joinSome(parts))
}

// Is makes errors.Is(err, ErrDamaged) true.
func (e *DamageError) Is(target error) bool { return target == ErrDamaged }

func damageLine(f VerifiedFile) string {
	switch {
	case f.Status == StatusMissing:
		return f.Path + " is missing"
	case f.Status == StatusUnreadable:
		return fmt.Sprintf("%s cannot be read (%s)", f.Path, f.Error)
	case f.ActualSize != f.Size:
		return fmt.Sprintf("%s is %d bytes, recorded %d", f.Path, f.ActualSize, f.Size)
	}
	return fmt.Sprintf("%s changed (read %s %s, recorded %s)", f.Path, f.Algorithm, f.Actual, f.Expected)
}

// NotKitError says why a target Verify was given is not a compose kit.
type NotKitError struct {
	Target   string
	Problems []string
}

func (e *NotKitError) Error() string {
	return fmt.Sprintf("%s is not a compose kit: %s", e.Target, joinSome(e.Problems))
}

// Is makes errors.Is(err, ErrNotKit) true.
func (e *NotKitError) Is(target error) bool { return target == ErrNotKit }

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Progress, when set, is told the bytes read of the target's files:
	// done of total, and the file being read.
	Progress func(done, total int64, path string)
	// Ring is how many read buffers overlap reading with hashing: 0 is 4
	// (the benchmark compares 1).
	Ring int
	// OpenDirect is nil (directio.OpenFile) but in tests.
	OpenDirect DirectOpener
}

// DirectOpener opens f again with O_DIRECT: directio.OpenFile, or in tests
// one that refuses.
type DirectOpener func(f *os.File) (*directio.Reader, error)

// Verify reads every byte of every file the kit in f (an image file or
// block device the caller opened) records, on the ESP and the ext4 data
// partition (as replayed, in memory, when its journal holds an
// interrupted apply), and compares each with the record: ISOs with their
// whole pinned digest, boot files and the menu with their SHA-256. It
// reads with O_DIRECT where the target allows it, so that it checks the
// medium, not the page cache. It writes nothing. lock, when set, is only
// compared with the record (VerifiedFile.Lock).
//
// The Verification is nil only when the target could not be read or
// holds no kit (*NotKitError, ErrNotKit); damage is a *DamageError
// (ErrDamaged) beside the Verification.
func Verify(ctx context.Context, f *os.File, lock *config.Lock, opts VerifyOptions) (*Verification, error) {
	path := f.Name()
	src, direct, warning, err := uncachedReader(f, opts.OpenDirect)
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", path, err)
	}
	if r, ok := src.(*directio.Reader); ok {
		defer r.Close()
	}
	res, jobs, err := readKit(f, src, lock)
	if err != nil {
		return nil, err
	}
	res.Direct = direct
	if warning != "" {
		res.Warnings = append(res.Warnings, warning)
	}
	if err := hashAll(ctx, jobs, res, opts.Ring, opts.Progress); err != nil {
		return nil, fmt.Errorf("verifying %s: %w", path, err) // Ctrl-C: say what stopped
	}
	res.finish(lock)
	if res.Damaged > 0 {
		return res, res.damage()
	}
	return res, nil
}

// readKit reads the kit's record and volumes through src (the partition
// table through f) and lists the files to read whole; the BIOS boot code,
// small, is checked at once.
func readKit(f *os.File, src io.ReaderAt, lock *config.Lock) (*Verification, []fileJob, error) {
	t, esp, espIndex, err := readRecord(f, src)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying %s: %w", f.Name(), err)
	}
	if !t.Kit {
		return nil, nil, &NotKitError{Target: f.Name(), Problems: t.Problems}
	}
	res := &Verification{Target: f.Name(), Kit: t.State.Kit, Interim: t.State.Interim, Files: []VerifiedFile{}}
	if res.Interim {
		res.Notes = append(res.Notes, "it holds the interim kit of an interrupted two-step apply, without the ISOs being replaced: apply again finishes it")
	}
	if lock != nil {
		res.Lock = lock.File
	}
	jobs := espJobs(t.State, esp, espIndex, res)
	data, err := dataJobs(t, src, res)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying %s: %w", f.Name(), err)
	}
	res.checkBIOSBoot(t, src)
	return res, append(jobs, data...), nil
}

// uncachedReader gives a reader of f's bytes that bypasses the page cache:
// the file f has open, opened again with O_DIRECT (through /proc/self/fd on
// Linux, so a path renamed or replaced since does not matter; elsewhere by
// path, refused if the path now names another file), or where its file
// system refuses direct I/O, f itself (and a warning). f's cached pages are
// dropped either way: the partition table is read through f.
func uncachedReader(f *os.File, openDirect DirectOpener) (io.ReaderAt, bool, string, error) {
	dropCache(f)
	if openDirect == nil {
		openDirect = directio.OpenFile
	}
	r, err := openDirect(f)
	switch {
	case err == nil:
		if err := sameFile(f, r); err != nil {
			r.Close()
			return nil, false, "", err
		}
		return r, true, "", nil
	case errors.Is(err, directio.ErrRefused):
		return f, false, fmt.Sprintf("read after dropping the page cache, not bypassing it: %v", err), nil
	}
	return nil, false, "", err
}

// sameFile refuses a direct reader of another file than f: its path was
// renamed or replaced between the two opens.
func sameFile(f *os.File, r *directio.Reader) error {
	a, err := f.Stat()
	if err != nil {
		return err
	}
	b, err := r.Stat()
	if err != nil {
		return err
	}
	if !os.SameFile(a, b) {
		return fmt.Errorf("%s was replaced while it was opened", f.Name())
	}
	return nil
}

// finish counts the damage and compares the ISOs with the lock.
func (res *Verification) finish(lock *config.Lock) {
	for i := range res.Files {
		f := &res.Files[i]
		if f.Damaged() {
			res.Damaged++
		}
		if lock == nil || f.Kind != "iso" {
			continue
		}
		switch e := lock.ISO(f.Name); {
		case e == nil:
			f.Lock = "absent"
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s does not name it", f.Name, lock.File))
		case e.Algorithm != f.Algorithm || e.Digest != f.Expected || e.Size != f.Size:
			f.Lock = "differs"
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %s pins %s:%s, the stick holds %s:%s ('compose plan' on this target shows the change)",
				f.Name, lock.File, e.Algorithm, e.Digest, f.Algorithm, f.Expected))
		default:
			f.Lock = "pinned"
		}
	}
	res.OK = res.Damaged == 0
}

func (res *Verification) damage() error {
	e := &DamageError{Target: res.Target}
	for _, f := range res.Files {
		if f.Damaged() {
			e.Files = append(e.Files, f)
		}
	}
	return e
}

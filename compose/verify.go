package compose

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/config"
)

// VerifyOptions tune Verify.
type VerifyOptions struct {
	// Targets are image files or block devices holding kits.
	Targets []string
	// Manifest, when set, is the manifest whose lock the ISOs' recorded
	// digests are compared with (VerifiedFile.Lock); the record alone is
	// what the bytes are checked against.
	Manifest string
	// Progress receives one verify task per target; Done and Total count
	// the bytes of the files read.
	Progress func(Event)
}

// Verify reads every byte of every file the kit on each target records,
// on the ESP and the ext4 data partition (as replayed, in memory, when its
// journal holds an interrupted apply), and compares each with the record:
// ISOs with their whole pinned digest, boot files and the menu with their
// SHA-256. It reads with O_DIRECT where the target allows it, so that it
// checks the medium, not the page cache. It writes nothing.
//
// Every target is verified, one failing or not; the error joins a
// *DamageError (ErrDamaged) per damaged kit, a *NotKitError (ErrNotKit)
// per target holding no kit, and the errors of targets that could not be
// read at all. The manifest's lock, when given, is only compared with the
// record; a lock that cannot be used is a note, not an error.
func Verify(ctx context.Context, opts VerifyOptions) ([]*converge.Verification, error) {
	var lock *config.Lock
	var lockNote string
	if opts.Manifest != "" {
		k, err := Load(opts.Manifest, Options{})
		if err != nil {
			return nil, err
		}
		lock, lockNote = k.lock, lockUnusable(k)
	}
	var out []*converge.Verification
	var errs []error
	for _, path := range opts.Targets {
		v, err := verifyTarget(ctx, path, lock, opts.Progress)
		if v != nil {
			if lockNote != "" {
				v.Notes = append(v.Notes, lockNote)
			}
			out = append(out, v)
		}
		if err != nil {
			if ctx.Err() != nil {
				return out, err
			}
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// lockUnusable says why a loaded kit's lock is not compared with, or "".
func lockUnusable(k *Kit) string {
	switch {
	case k.lock != nil:
		return ""
	case k.lockErr != nil:
		return fmt.Sprintf("the ISOs were not compared with %s: %v", k.lockPath, k.lockErr)
	}
	return fmt.Sprintf("the ISOs were not compared with a lock: %s has none (%s)", k.m.File, k.lockPath)
}

// verifyTarget verifies one target; the Verification is nil only when the
// target could not be read or holds no kit.
func verifyTarget(ctx context.Context, path string, lock *config.Lock, progress func(Event)) (*converge.Verification, error) {
	f, err := imagefile.OpenReading(path, "verify")
	if errors.Is(err, imagefile.ErrTargetBusy) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("verifying %s: %w", path, err)
	}
	defer f.Close()
	return verifyFile(ctx, f, lock, progress, nil)
}

// verifyFile is converge.Verify on a target the caller has open (apply's
// descriptor, never its path again), its progress one task.
func verifyFile(ctx context.Context, f *os.File, lock *config.Lock, progress func(Event), openDirect converge.DirectOpener) (*converge.Verification, error) {
	opts := converge.VerifyOptions{OpenDirect: openDirect}
	var done, total int64
	if progress != nil {
		opts.Progress = func(d, t int64, path string) {
			done, total = d, t
			progress(Event{Phase: PhaseVerify, Task: f.Name(), Done: d, Total: t, Status: Running, Message: path})
		}
	}
	v, err := converge.Verify(ctx, f, lock, opts)
	switch {
	case progress == nil:
	case v != nil:
		progress(Event{Phase: PhaseVerify, Task: f.Name(), Done: done, Total: total, Status: Done})
	case ctx.Err() != nil:
		progress(Event{Phase: PhaseVerify, Task: f.Name(), Done: done, Total: total, Status: Failed})
	}
	return v, err
}

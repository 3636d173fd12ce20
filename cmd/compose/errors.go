package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/compose/pin"
	"github.com/usbkit/compose/config"
	"github.com/usbkit/compose/config/crash"
	"github.com/usbkit/compose/fetch"
)

// Exit codes. README.md documents the same table; a test keeps them in step.
const (
	exitOK          = 0   // success
	exitFailure     = 1   // any failure without a more specific code
	exitUsage       = 2   // bad command line: unknown verb or flag, wrong arguments
	exitInvalid     = 3   // the manifest or lock file is invalid, or they disagree
	exitMismatch    = 4   // a download, a cache entry, the built image or a file on a kit does not match its digest
	exitUnsafe      = 5   // a device or image path was refused as a target (verify: it holds no kit); nothing was written
	exitBootFailed  = 6   // compose test: a boot did not pass
	exitPending     = 7   // plan --detailed-exitcode: apply would change something
	exitInternal    = 70  // a bug in compose: a panic recovered as an error, its stack in the hint
	exitInterrupted = 130 // stopped by Ctrl-C or SIGTERM
)

// errPending is plan --detailed-exitcode's result when apply would change
// something: not a failure, so execute prints nothing for it.
var errPending = errors.New("apply would change something")

// usageError marks errors in how compose was called, as opposed to what it
// was asked to do.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// interrupted marks an error that happened because the user stopped compose.
type interrupted struct{ error }

func (e interrupted) Unwrap() error { return e.error }

// stopSignals are the signals that interrupt compose (main.go).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// Error says "interrupted" where the library's error says why it stopped
// in Go's words: "context canceled", or the cause signal.NotifyContext
// gives, which an HTTP download quotes ("interrupt signal received",
// "terminated signal received").
func (e interrupted) Error() string { return sayInterrupted(e.error.Error()) }

func sayInterrupted(msg string) string {
	msg = strings.ReplaceAll(msg, context.Canceled.Error(), "interrupted")
	for _, s := range stopSignals {
		msg = strings.ReplaceAll(msg, s.String()+" signal received", "interrupted")
	}
	return msg
}

// exitCode is the one place where errors become exit codes.
func exitCode(err error) int {
	var (
		u usageError
		i interrupted
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &i):
		return exitInterrupted
	case errors.Is(err, crash.ErrInternal):
		return exitInternal
	case errors.As(err, &u), errors.Is(err, compose.ErrDuplicateDevice), errors.Is(err, imagefile.ErrImageDir):
		return exitUsage
	case errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrStaleLock), errors.Is(err, config.ErrForeignLock),
		errors.Is(err, errFrozen):
		return exitInvalid
	case errors.Is(err, fetch.ErrChecksumMismatch), errors.Is(err, disk.ErrMismatch), errors.Is(err, compose.ErrBadCacheEntry),
		errors.Is(err, converge.ErrDamaged):
		return exitMismatch
	case errors.Is(err, compose.ErrUnsafeTarget), errors.Is(err, converge.ErrNotKit), errors.Is(err, compose.ErrPersistenceData):
		return exitUnsafe
	case errors.Is(err, errBootFailed):
		return exitBootFailed
	case errors.Is(err, errPending):
		return exitPending
	}
	return exitFailure
}

// hintFor suggests the next step for errors where one is known.
func hintFor(err error) string {
	var (
		u  usageError
		uv *unknownVerbError
		ie *crash.Error
		h  interface{ Hint() string } // an error that knows its next step (pin.SourceError)
		ut *device.UnsafeTargetError
	)
	switch {
	case errors.As(err, &ie):
		return "this is a bug in compose; please report it with this stack:\n" + ie.Stack
	case errors.As(err, &h) && h.Hint() != "":
		return h.Hint()
	case errors.As(err, &uv) && len(uv.suggest) > 0:
		return fmt.Sprintf("did you mean %s?", strings.Join(uv.suggest, " or "))
	case errors.As(err, &u):
		return "run 'compose help' for usage"
	case errors.Is(err, errFrozen):
		return "run 'compose lock' where it may write (without --frozen and " + frozenEnv + "), and commit the lock with the manifest"
	case errors.Is(err, compose.ErrNoLock), errors.Is(err, config.ErrStaleLock):
		return "run 'compose lock' to pin the manifest's ISOs in its lock file"
	case errors.Is(err, converge.ErrRecreate):
		return "'compose plan --image/--device' shows the differences; apply --recreate rewrites the target in full"
	case errors.Is(err, converge.ErrChanged), errors.Is(err, compose.ErrNotPlanned):
		return "something else changed the target while compose planned; run the command again to plan anew"
	case errors.Is(err, imagefile.ErrTargetBusy):
		return "wait for the other process to finish, then run again"
	case errors.Is(err, imagefile.ErrUnsafeImage):
		return "name a new file, or an image compose built before"
	case errors.As(err, &ut) && forceLifts(ut):
		return "--force writes it anyway: it lifts the removable and size limits, which are all that refused it"
	case errors.Is(err, compose.ErrUnsafeTarget):
		return "'compose devices' lists the disks and why each is refused; --force lifts only the removable and size limits"
	case errors.Is(err, boottest.ErrNotInstalled):
		return "compose boot and compose test need QEMU and firmware from Debian's packages (see the error)"
	case errors.Is(err, errLinuxOnly), errors.Is(err, device.ErrUnsupported):
		return "build the image here with 'compose apply --image FILE', then write or boot-test it on a Linux machine"
	case errors.Is(err, fetch.ErrNotCached):
		return "run without --offline, or 'compose fetch' while online"
	case errors.Is(err, converge.ErrDamaged):
		return "rewrite the kit in full with the manifest that built it: compose apply --image FILE --recreate (--device DEV --recreate for a stick)"
	case errors.Is(err, compose.ErrBadCacheEntry):
		return "remove the cache entry named above and run again: it is fetched and verified anew"
	case errors.Is(err, fetch.ErrChecksumMismatch):
		return "the file is not what the checksum says: a changed upload, a bad mirror or tampering; nothing was cached"
	}
	return ""
}

// forceLifts reports whether --force lifts every reason of e.
func forceLifts(e *device.UnsafeTargetError) bool {
	for _, r := range e.Reasons {
		if !r.Overridable {
			return false
		}
	}
	return len(e.Reasons) > 0
}

// diagnosticsOf extracts positioned problems for --json output.
func diagnosticsOf(err error) []diagnostic {
	var ds config.Diagnostics
	if !errors.As(err, &ds) {
		walkErrors(err, func(e error) { // ISOs that failed to fetch or pin, at their manifest lines
			if se, ok := e.(*pin.SourceError); ok {
				ds = append(ds, se.Where)
			}
		})
	}
	out := make([]diagnostic, len(ds))
	for i, d := range ds {
		out[i] = diagnostic{File: d.File, Line: d.Line, Column: d.Col, Message: d.Msg}
	}
	return out
}

// hintOf is the hint for err: hintFor's, or one that needs to know the
// manifest (a missing manifest, a missing file it names).
func (a *app) hintOf(err error) string {
	if h := hintFor(err); h != "" {
		return h
	}
	if a.missingManifest(err) {
		if a.file == defaultManifest {
			return "no " + defaultManifest + " here: 'compose init' writes a commented one to start from, or -f names another manifest"
		}
		return fmt.Sprintf("'compose init -f %s' writes a commented manifest there to start from, or -f names another one", a.file)
	}
	if a.namesMissingFile(err) {
		return a.missingFileHint()
	}
	return ""
}

// defaultManifest is what -f names when not given.
const defaultManifest = "multiboot.yaml"

// missingManifest reports whether err says that the manifest -f names
// does not exist.
func (a *app) missingManifest(err error) bool {
	if a.file == "-" || !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	found := false
	walkErrors(err, func(e error) {
		if pe, ok := e.(*fs.PathError); ok && errors.Is(pe.Err, fs.ErrNotExist) && absOrClean(pe.Path) == absOrClean(a.file) {
			found = true
		}
	})
	return found
}

// namesMissingFile reports whether err says that a file the manifest
// names (a path: ISO, a key or certificate file) is missing: only then is
// missingFileHint the hint, not for a missing image directory, device or
// $TMPDIR.
func (a *app) namesMissingFile(err error) bool {
	if a.kit == nil || !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	named := map[string]bool{}
	for _, f := range a.kit.NamedFiles() {
		named[absOrClean(f.Path)] = true
	}
	found := false
	walkErrors(err, func(e error) {
		if pe, ok := e.(*fs.PathError); ok && errors.Is(pe.Err, fs.ErrNotExist) && named[absOrClean(pe.Path)] {
			found = true
		}
	})
	return found
}

// walkErrors calls fn on err and every error it wraps.
func walkErrors(err error, fn func(error)) {
	if err == nil {
		return
	}
	fn(err)
	switch e := err.(type) {
	case interface{ Unwrap() error }:
		walkErrors(e.Unwrap(), fn)
	case interface{ Unwrap() []error }:
		for _, k := range e.Unwrap() {
			walkErrors(k, fn)
		}
	}
}

func absOrClean(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// installLine finds a package install command in a manifest's header
// comment ("#   sudo apt-get install -y memtest86+ ipxe").
var installLine = regexp.MustCompile(`^#\s*((?:sudo\s+)?(?:apt-get|apt|dnf|yum|zypper|pacman)\s.*\S)\s*$`)

// missingFileHint is the hint for a file that is not there, which for a
// manifest's path: ISOs usually means a package is not installed: it
// quotes the install command the manifest's header names, if any.
func (a *app) missingFileHint() string {
	const fix = "or fix the path in the manifest"
	data, err := os.ReadFile(a.file)
	if a.file == "-" || err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			break
		}
		if m := installLine.FindStringSubmatch(line); m != nil {
			return fmt.Sprintf("install the packages the manifest's header names (%s), %s", m[1], fix)
		}
	}
	return "a file the manifest names is missing: install the package that provides it, " + fix
}

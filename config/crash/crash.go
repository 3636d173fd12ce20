// Package crash turns a panic into an error, for the goroutines that read
// what compose does not control (ISOs, HTTP bodies, devices) and for the
// CLI's main goroutine: a bug then ends in an error the caller reports, with
// its stack, instead of a crash that leaves `--json` output empty.
//
// It cannot catch what the runtime does not let recover: a stack overflow,
// running out of memory, a concurrent map write. Those are prevented where
// the input could cause them (bounded walks and reads), not caught.
package crash

import (
	"errors"
	"fmt"
	"runtime/debug"
)

// ErrInternal is matched by every error Recover makes: a bug in compose.
var ErrInternal = errors.New("internal error")

// Error is a recovered panic.
type Error struct {
	Where string // what was running: "placing /isos/a.iso", "fetch worker"
	Value any    // what panic was called with
	Stack string // the panicking goroutine's stack
}

func (e *Error) Error() string {
	return fmt.Sprintf("internal error while %s: %v", e.Where, e.Value)
}

// Is makes errors.Is(err, ErrInternal) true; Unwrap keeps the identity of
// an error panic was called with.
func (e *Error) Is(target error) bool {
	return target == ErrInternal
}

// Unwrap is the error panic was called with, if it was one.
func (e *Error) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Recover, deferred directly, turns a panic of the function that deferred it
// into an *Error stored in *err (it replaces whatever *err held):
//
//	defer crash.Recover(&err, "fetching %s", name)
func Recover(err *error, format string, a ...any) {
	if r := recover(); r != nil {
		*err = &Error{Where: fmt.Sprintf(format, a...), Value: r, Stack: string(debug.Stack())}
	}
}

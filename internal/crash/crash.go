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

// Is makes errors.Is(err, ErrInternal) true, and true for an error the
// panic was called with when it matches (a panic(err) keeps err's identity).
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

// Go runs fn on a new goroutine and sends its error, or its panic as an
// *Error, on the returned channel (buffered: nobody has to receive).
func Go(fn func() error, format string, a ...any) <-chan error {
	done := make(chan error, 1)
	go func() {
		var err error
		defer func() { done <- err }()
		defer Recover(&err, format, a...)
		err = fn()
	}()
	return done
}

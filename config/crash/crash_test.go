package crash

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func divide(a, b int) (q int, err error) {
	defer Recover(&err, "dividing %d by %d", a, b)
	return a / b, nil
}

func TestRecover(t *testing.T) {
	if q, err := divide(6, 3); q != 2 || err != nil {
		t.Fatalf("no panic: %d %v", q, err)
	}
	_, err := divide(1, 0)
	var e *Error
	if !errors.Is(err, ErrInternal) || !errors.As(err, &e) {
		t.Fatalf("want an *Error, got %v", err)
	}
	if err.Error() != "internal error while dividing 1 by 0: runtime error: integer divide by zero" ||
		!strings.Contains(e.Stack, "crash.divide") {
		t.Fatalf("message %q, stack:\n%s", err, e.Stack)
	}
}

func TestRecoverKeepsPanickedError(t *testing.T) {
	err := func() (err error) {
		defer Recover(&err, "reading")
		panic(io.ErrUnexpectedEOF)
	}()
	if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrInternal) {
		t.Fatalf("got %v", err)
	}
}

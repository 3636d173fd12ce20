package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every error that reports an invalid
// manifest or lock file: syntax, structure or a broken rule. The CLI maps it
// to the "invalid manifest" exit code.
var ErrInvalid = errors.New("invalid manifest")

// ErrStaleLock is matched by the error of (*Lock).Check when the lock no longer
// describes the manifest; the fix is to run `compose lock` again.
var ErrStaleLock = errors.New("lock file out of date")

// Pos is a 1-based position in a source file. Line 0 means "unknown".
type Pos struct {
	Line, Col int
}

// Diagnostic is one problem found in a file. The JSON names are what
// `--json` output uses.
type Diagnostic struct {
	File string `json:"file"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
	Msg  string `json:"message"`
}

// String formats d as "file:line:col: msg", the form editors and CI problem
// matchers recognise. Unknown parts are left out.
func (d Diagnostic) String() string {
	switch {
	case d.Line <= 0:
		return fmt.Sprintf("%s: %s", d.File, d.Msg)
	case d.Col <= 0:
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Msg)
}

// Diagnostics is the error returned for an invalid manifest or lock file: all
// problems found, in file order. It matches ErrInvalid.
type Diagnostics []Diagnostic

// Error lists every diagnostic, one a line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Is reports whether target is ErrInvalid.
func (ds Diagnostics) Is(target error) bool { return target == ErrInvalid }

// sorted returns ds ordered by file position with exact duplicates dropped.
func (ds Diagnostics) sorted() Diagnostics {
	out := append(Diagnostics(nil), ds...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	uniq := out[:0]
	for i, d := range out {
		if i > 0 && d == out[i-1] {
			continue
		}
		uniq = append(uniq, d)
	}
	return uniq
}

// StaleLockError is returned by (*Lock).Check: every ISO that is missing from
// the lock, locked but no longer in the manifest, or whose source changed.
// It matches ErrStaleLock, not ErrInvalid.
type StaleLockError struct {
	Problems Diagnostics
}

func (e *StaleLockError) Error() string { return e.Problems.Error() }

// Is reports whether target is ErrStaleLock.
func (e *StaleLockError) Is(target error) bool { return target == ErrStaleLock }

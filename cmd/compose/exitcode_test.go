package main

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/usbkit/compose/compose/imagefile"
)

// The target errors map to README's codes: a refused or busy image 5, a
// missing image directory and --image - 2 (usage), an interruption 130,
// a path swapped while apply ran 1.
func TestTargetExitCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{&imagefile.RefusedImageError{Path: "k.img", Reason: "it is the manifest"}, exitUnsafe},
		{&imagefile.RefusedImageError{Path: "k.img", Reason: "another process is writing it", Busy: true}, exitUnsafe},
		{fmt.Errorf("x: %w", imagefile.ErrTargetBusy), exitUnsafe},
		{&imagefile.ImageDirError{Path: "no/k.img", Dir: "no", Err: errors.New("x")}, exitUsage},
		{usageError{errStdoutImage}, exitUsage},
		{interrupted{fmt.Errorf("fetching: %w", context.Canceled)}, exitInterrupted},
		{fmt.Errorf("k.img was moved: %w", imagefile.ErrTargetMoved), exitFailure},
	} {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
	if h := hintFor(&imagefile.RefusedImageError{Busy: true}); h != "wait for the other process to finish, then run again" {
		t.Errorf("hint for a busy image: %q", h)
	}
}

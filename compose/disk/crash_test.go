package disk

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/usbkit/compose/config/crash"
)

// A panic in the pump's writer (a bug in a sink) is an internal error, and the reader
// and hasher stop instead of waiting for it forever.
func TestPumpPanicIsError(t *testing.T) {
	src := bytes.NewReader(make([]byte, 3*chunkSize+1))
	_, err := pump(context.Background(), src, int64(src.Len()), func(b []byte, off int64, zero bool) error {
		if off > 0 {
			panic("sink bug")
		}
		return nil
	}, func(int64) {})
	if !errors.Is(err, crash.ErrInternal) {
		t.Fatalf("want an internal error, got %v", err)
	}
}

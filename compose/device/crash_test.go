package device

import (
	"errors"
	"sync"
	"testing"

	"github.com/usbkit/compose/config/crash"
)

// A panic in one device's goroutine (a bug) reaches failed as an internal error; the
// others finish, and parallel returns.
func TestParallelPanicIsError(t *testing.T) {
	var mu sync.Mutex
	done, failed := map[int]bool{}, map[int]error{}
	parallel(3, func(i int) {
		if i == 1 {
			var b []byte
			_ = b[i] // index out of range
		}
		mu.Lock()
		done[i] = true
		mu.Unlock()
	}, func(i int, err error) {
		mu.Lock()
		failed[i] = err
		mu.Unlock()
	})
	if !done[0] || !done[2] || done[1] || len(failed) != 1 || !errors.Is(failed[1], crash.ErrInternal) {
		t.Fatalf("done %v, failed %v", done, failed)
	}
}

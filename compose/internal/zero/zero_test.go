package zero

import "testing"

func TestAll(t *testing.T) {
	if !All(nil) || !All(make([]byte, 4097)) {
		t.Error("zeros not all zero")
	}
	for _, n := range []int{1, 7, 8, 9, 4096, 4097} {
		for _, at := range []int{0, n / 2, n - 1} {
			b := make([]byte, n)
			b[at] = 1
			if All(b) {
				t.Errorf("%d bytes with a 1 at %d: all zero", n, at)
			}
		}
	}
}

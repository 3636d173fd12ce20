package isoimage

import "testing"

// BenchmarkInspectSeedISO is the cost of one FuzzISO iteration on a seed.
func BenchmarkInspectSeedISO(b *testing.B) {
	seed := seedISOs(b, false)[0]
	for b.Loop() {
		if _, err := inspectBytes(seed); err != nil {
			b.Fatal(err)
		}
	}
}

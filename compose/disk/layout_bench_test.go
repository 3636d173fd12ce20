package disk

import (
	"fmt"
	"testing"
)

// manyISOs is a spec of n ISOs of 1 MiB each, named like manifest entries.
func manyISOs(n int) Spec {
	s := Spec{ESP: ESP{Label: "MULTIBOOT"}}
	for i := range n {
		s.ISOs = append(s.ISOs, File{Path: fmt.Sprintf("/isos/distribution-%05d.iso", i), Source: "/nonexistent", Size: mib})
	}
	return s
}

// BenchmarkLayoutManyISOs: issue 13 measured 22 s for 1,600 ISOs and no end
// for 10,000 (a pass over every file per MiB of FAT size, and 8.3 alias
// checks against every earlier name). The goal is linear: a few seconds
// for 10,000.
//
//	go test -run '^$' -bench LayoutManyISOs -benchtime 1x ./compose/disk/
func BenchmarkLayoutManyISOs(b *testing.B) {
	for _, n := range []int{1600, 10000} {
		spec := manyISOs(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := ComputeLayout(spec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

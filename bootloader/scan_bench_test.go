package bootloader

import (
	"fmt"
	"testing"
	"testing/fstest"
)

// manyKernels is a hostile ISO tree: n kernel-like files and n initrds in
// one directory, beside a live layout.
func manyKernels(n int) fstest.MapFS {
	fsys := fstest.MapFS{"live/vmlinuz": {Data: []byte("k")}, "live/initrd.img": {Data: []byte("i")}}
	for i := range n {
		fsys[fmt.Sprintf("boot/vmlinuz-%d", i)] = &fstest.MapFile{Data: []byte("k")}
		fsys[fmt.Sprintf("boot/initrd.img-%d", i)] = &fstest.MapFile{Data: []byte("i")}
	}
	return fsys
}

// BenchmarkInspectManyKernels: issue 13 measured 118 s for 5,000
// kernel-like files; the goal is under 1 s.
//
//	go test -run '^$' -bench InspectManyKernels -benchtime 1x ./bootloader/
func BenchmarkInspectManyKernels(b *testing.B) {
	for _, n := range []int{500, 5000} {
		fsys := manyKernels(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Inspect(fsys, "X"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

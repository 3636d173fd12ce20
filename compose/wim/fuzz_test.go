package wim

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzPlanSplit: no WIM, however broken, panics the planner or the writer;
// a plan it accepts writes parts of exactly the planned sizes, each within
// the limit, each a WIM that ReadInfo reads back with the source's GUID.
func FuzzPlanSplit(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "small.wim")); err == nil {
		f.Add(b, uint32(1500))
		f.Add(b, uint32(3000))
		f.Add(b, uint32(1<<20))
	}
	f.Add(synthWIM(synthXML, VersionDefault, 0), uint32(4096))
	f.Fuzz(func(t *testing.T, b []byte, max uint32) {
		src := bytes.NewReader(b)
		plan, err := PlanSplit(src, int64(len(b)), int64(max), "install.swm")
		if err != nil {
			if !errors.Is(err, ErrNotWIM) && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if plan.Size() > int64(len(b))*int64(len(plan.Parts))+int64(len(plan.Parts))*HeaderSize {
			t.Fatalf("%d bytes of parts from %d bytes", plan.Size(), len(b))
		}
		for i, part := range plan.Parts {
			var out bytes.Buffer
			if err := plan.WritePart(&out, src, i); err != nil {
				t.Fatal(err)
			}
			if int64(out.Len()) != part.Size || part.Size > int64(max) {
				t.Fatalf("part %d: %d bytes, planned %d, limit %d", i+1, out.Len(), part.Size, max)
			}
			info, err := ReadInfo(bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil {
				t.Fatalf("part %d does not read back: %v", i+1, err)
			}
			if info.Header.GUID != plan.Source.GUID || int(info.Header.PartNumber) != i+1 {
				t.Fatalf("part %d: header %+v", i+1, info.Header)
			}
		}
	})
}

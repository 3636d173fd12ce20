package config

import (
	"fmt"
	"testing"
)

// The count of problems left out agrees with its noun.
func TestCappedPlural(t *testing.T) {
	for extra, want := range map[int]string{1: "… and 1 more problem", 2: "… and 2 more problems"} {
		ds := make(Diagnostics, MaxDiagnostics+extra)
		for i := range ds {
			ds[i] = Diagnostic{File: "m.yaml", Msg: fmt.Sprint(i)}
		}
		got := ds.capped()
		if last := got[len(got)-1].Msg; last != want {
			t.Errorf("%d left out: %q, want %q", extra, last, want)
		}
	}
}

package plural

import "testing"

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		n    int
		noun string
		want string
	}{
		{1, "ISO", "1 ISO"},
		{2, "ISO", "2 ISOs"},
		{0, "ISO", "0 ISOs"},
		{1, "entry", "1 entry"},
		{3, "entry", "3 entries"},
		{2, "key", "2 keys"},
		{1, "change", "1 change"},
		{5, "change", "5 changes"},
		{2, "recorded file", "2 recorded files"},
		{1, "file is", "1 file is"},
		{4, "file is", "4 files are"},
		{2, "more problem", "2 more problems"},
		{2, "patch", "2 patches"},
		{2, "byte", "2 bytes"},
		{1, "byte", "1 byte"},
		{2, "device", "2 devices"},
		{2, "attempt", "2 attempts"},
	} {
		if got := Count(tc.n, tc.noun); got != tc.want {
			t.Errorf("Count(%d, %q) = %q, want %q", tc.n, tc.noun, got, tc.want)
		}
	}
}

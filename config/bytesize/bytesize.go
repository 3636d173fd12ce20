// Package bytesize formats byte counts for people, the one way the whole
// module does it (progress, plans, device listings and refusals): binary
// units, an exact count without decimals ("1 TiB", "512 MiB"), any other
// with one ("1.5 GiB"). Like config/firmware it imports nothing of the
// module, so every package may use it.
package bytesize

import "strconv"

var units = []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// Format formats n bytes.
func Format(n int64) string {
	f := float64(n)
	i := 0
	for (f >= 1024 || f <= -1024) && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 || f == float64(int64(f)) {
		return strconv.FormatFloat(f, 'f', -1, 64) + " " + units[i]
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

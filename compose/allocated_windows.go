package compose

import "os"

// allocatedBytes falls back to the file's length: Windows reports no
// allocated size through os.Stat.
func allocatedBytes(path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

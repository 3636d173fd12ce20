package device

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// dataExtents lists the allocated ranges of f (SEEK_DATA/SEEK_HOLE),
// rounded out to 4 KiB and clipped to size. A file system without hole
// support reports the whole file as data, which is correct, only slower.
func dataExtents(f *os.File, size int64) ([]span, error) {
	var out []span
	fd := int(f.Fd())
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			break // no data after off
		}
		if err != nil {
			return []span{{0, size}}, nil //nolint:nilerr // no SEEK_DATA here: everything is data
		}
		hole, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, err
		}
		out = append(out, span{data, hole})
		off = hole
	}
	return clip(merge(out), size), nil
}

package bootloader

import (
	"fmt"
	"io"
	"io/fs"
)

// maxPayloadRead bounds what is read from an ISO into memory at once. PE
// headers and Authenticode signatures take a few KiB to a MiB; a directory
// record is free to claim 4 GiB, and must not decide compose's memory use.
const maxPayloadRead = 8 << 20

// readerAt gives random access to a payload inside an ISO without reading
// it whole: a file that can seek is read where asked, in pieces of at most
// maxPayloadRead; one that cannot is read into memory up to that cap.
func readerAt(f io.Reader, name string) (io.ReaderAt, error) {
	if ra, ok := f.(io.ReaderAt); ok {
		return cappedAt{ra}, nil
	}
	if s, ok := f.(io.ReadSeeker); ok {
		return cappedAt{seekAt{s}}, nil
	}
	b, err := io.ReadAll(io.LimitReader(f, maxPayloadRead+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(b) > maxPayloadRead {
		return nil, fmt.Errorf("reading %s: larger than %d MiB and not seekable", name, maxPayloadRead>>20)
	}
	return bytesAt(b), nil
}

type cappedAt struct{ r io.ReaderAt }

func (c cappedAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) > maxPayloadRead {
		return 0, fmt.Errorf("a read of %d bytes is over the %d MiB limit", len(p), maxPayloadRead>>20)
	}
	return c.r.ReadAt(p, off)
}

// seekAt is io.ReaderAt over an io.ReadSeeker; calls must not overlap.
type seekAt struct{ s io.ReadSeeker }

func (r seekAt) ReadAt(p []byte, off int64) (int, error) {
	if _, err := r.s.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	return io.ReadFull(r.s, p)
}

type bytesAt []byte

func (b bytesAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// maxPayloadFile bounds a payload read whole (to hash it or extract its
// certificates): real kernels and EFI applications are at most tens of MiB;
// a directory record claiming 4 GiB must not decide compose's memory use.
const maxPayloadFile = 128 << 20

// readCapped is fs.ReadFile refusing files over maxPayloadFile.
func readCapped(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPayloadFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPayloadFile {
		return nil, fmt.Errorf("%s is larger than %d MiB, too large for a boot payload", name, maxPayloadFile>>20)
	}
	return b, nil
}

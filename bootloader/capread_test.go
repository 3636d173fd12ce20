package bootloader

import (
	"io"
	"io/fs"
	"testing"
	"time"
)

// hugeFile is a kernel whose directory record claims 4 GiB: it serves
// zeros (up to 64 MiB, so a regression fails instead of exhausting memory)
// and counts what was read (up to twice the cap, so a regression fails
// instead of exhausting memory).
type hugeFile struct {
	off, read *int64
}

const hugeServes = 2 * maxPayloadFile

func (h hugeFile) Read(p []byte) (int, error) {
	if *h.off >= hugeServes {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), hugeServes-*h.off))
	clear(p[:n])
	*h.off += int64(n)
	*h.read += int64(n)
	return n, nil
}

func (h hugeFile) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart {
		return 0, io.ErrUnexpectedEOF
	}
	*h.off = off
	return off, nil
}

func (hugeFile) Stat() (fs.FileInfo, error) { return hugeInfo{}, nil }
func (hugeFile) Close() error               { return nil }

type hugeInfo struct{}

func (hugeInfo) Name() string       { return "vmlinuz" }
func (hugeInfo) Size() int64        { return 4 << 30 }
func (hugeInfo) Mode() fs.FileMode  { return 0o444 }
func (hugeInfo) ModTime() time.Time { return time.Time{} }
func (hugeInfo) IsDir() bool        { return false }
func (hugeInfo) Sys() any           { return nil }

type hugeFS struct{ off, read *int64 }

func (h hugeFS) Open(string) (fs.File, error) { return hugeFile(h), nil }

func TestCheckSecureBootReadsLittleOfAHugeKernel(t *testing.T) {
	var off, read int64
	_, err := CheckSecureBoot(hugeFS{&off, &read}, Detection{Family: Live, Kernel: "/live/vmlinuz"})
	if read > maxPayloadFile+1 || err == nil {
		t.Fatalf("read %d MiB of the payload into memory (cap %d MiB), err %v", read>>20, maxPayloadFile>>20, err)
	}
}

func TestReaderAtCapsUnseekable(t *testing.T) {
	var off, read int64
	_, err := readerAt(struct{ io.Reader }{hugeFile{&off, &read}}, "/k")
	if err == nil || read > maxPayloadRead+1 {
		t.Fatalf("want an error after at most %d bytes, got %v after %d", maxPayloadRead, err, read)
	}
}

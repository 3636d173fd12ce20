package converge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// failingAt reads zeros, and fails from byte at on.
type failingAt struct{ at int64 }

func (f failingAt) ReadAt(b []byte, off int64) (int, error) {
	n := int(max(0, min(int64(len(b)), f.at-off)))
	clear(b[:n])
	if n < len(b) {
		return n, errors.New("input/output error")
	}
	return n, nil
}

// TestHashAll: files read whole across many chunks, an empty one, and one
// whose reads fail part-way (unreadable, saying at which byte; the files
// after it are still read); a cancelled context stops it.
func TestHashAll(t *testing.T) {
	zeros := sha256Hex(make([]byte, 3*verifyChunk+5))
	res := &Verification{Files: []VerifiedFile{
		{Path: "/a", Expected: zeros}, {Path: "/bad", Expected: zeros}, {Path: "/empty", Expected: sha256Hex(nil)}, {Path: "/b", Expected: zeros},
	}}
	size := int64(3*verifyChunk + 5)
	var jobs []fileJob
	for i, r := range []io.ReaderAt{failingAt{size}, failingAt{verifyChunk + 7}, failingAt{0}, failingAt{size}} {
		n := size
		if i == 2 {
			n = 0
		}
		jobs = append(jobs, fileJob{r: io.NewSectionReader(r, 0, n), h: sha256.New(), file: i})
	}
	var last int64
	if err := hashAll(context.Background(), jobs, res, 0, func(done, total int64, _ string) { last = done }); err != nil {
		t.Fatal(err)
	}
	res.finish(nil)
	for i, f := range res.Files {
		if want := map[bool]string{true: StatusUnreadable, false: StatusOK}[i == 1]; f.Status != want {
			t.Errorf("%s: %s, want %s", f.Path, f.Status, want)
		}
	}
	if res.Damaged != 1 || res.OK {
		t.Errorf("damaged %d ok %v, want 1 and false", res.Damaged, res.OK)
	}
	if e := res.Files[1].Error; !strings.Contains(e, fmt.Sprintf("at byte %d: input/output error", verifyChunk+7)) {
		t.Fatalf("the read error: %q", e)
	}
	if res.BytesRead != 2*size+verifyChunk+7 || last != res.BytesRead {
		t.Fatalf("read %d bytes, last progress %d", res.BytesRead, last)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := hashAll(ctx, jobs[:1], &Verification{Files: res.Files[:1]}, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// cancelAtRead is a file that cancels its context at its first read and
// counts the reads made.
type cancelAtRead struct {
	cancel context.CancelFunc
	reads  int
}

func (c *cancelAtRead) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	c.cancel()
	clear(p)
	return len(p), nil
}

type oneFile struct{ r *io.SectionReader }

func (o oneFile) Open(string) (*io.SectionReader, error) { return o.r, nil }

// TestReadBackStopsMidFile: Ctrl-C ends the read-back of a written file at
// its next read. Found by the recheck pass: the check came only between
// files, so a 400 MiB ISO kept compose deaf for 0.7 s (a 4 GiB ISO on a
// USB stick: minutes), and the error was a bare "interrupted".
func TestReadBackStopsMidFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := &cancelAtRead{cancel: cancel}
	err := checkSums(ctx, oneFile{io.NewSectionReader(src, 0, 256<<20)}, map[string]string{"/isos/big.iso": "x"}, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "/isos/big.iso") {
		t.Fatalf("checkSums: %v; want context.Canceled naming the file", err)
	}
	if src.reads > 2 {
		t.Fatalf("%d reads of 4 MiB after Ctrl-C; want at most 2", src.reads)
	}
}

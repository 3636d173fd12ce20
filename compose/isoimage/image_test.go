package isoimage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
	"github.com/usbkit/compose/config"
)

// patchPVD returns a copy of iso with the primary volume descriptor's
// both-endian field at off (2 or 4 bytes wide) set to v.
func patchPVD(iso []byte, off, width int, v uint32) []byte {
	b := bytes.Clone(iso)
	pvd := b[isoFirstVD:]
	for pvd[0] != vdPrimary {
		pvd = pvd[isoSector:]
	}
	if width == 2 {
		binary.LittleEndian.PutUint16(pvd[off:], uint16(v))
		binary.BigEndian.PutUint16(pvd[off+2:], uint16(v))
	} else {
		binary.LittleEndian.PutUint32(pvd[off:], v)
		binary.BigEndian.PutUint32(pvd[off+4:], v)
	}
	return b
}

// go-diskfs v1.9.4's parsePathTable trusts the path table size: one of 3
// bytes makes it slice past the table's end and panic. Through readISO the
// panic is an error naming the ISO.
func TestGuardTurnsGoDiskfsPanicIntoError(t *testing.T) {
	bad := patchPVD(seedISOs(t, false)[0], 132, 4, 3) // path table size
	func() {
		defer func() {
			if recover() == nil {
				t.Log("go-diskfs no longer panics on this input: update the note in guard.go")
			}
		}()
		_, _ = iso9660.Read(file.New(memISO{bytes.NewReader(bad)}, true), int64(len(bad)), 0, 0)
	}()
	_, err := inspectBytes(bad)
	if !errors.Is(err, ErrMalformedISO) || !strings.Contains(err.Error(), "fuzz.iso") || !strings.Contains(err.Error(), "reader failed") {
		t.Fatalf("want ErrMalformedISO naming fuzz.iso, got %v", err)
	}
}

// A logical block size of 0xFFFF (which panics go-diskfs in parsePathTable
// when the scaled path table location lands inside the file) is refused by
// compose's own volume check before go-diskfs sees it.
func TestVolumeCheckRefusesBlockSize(t *testing.T) {
	bad := patchPVD(seedISOs(t, false)[0], pvdLogicalSize, 2, 0xFFFF)
	if _, err := inspectBytes(bad); !errors.Is(err, ErrMalformedISO) || !strings.Contains(err.Error(), "logical block size 65535") {
		t.Fatalf("want a logical block size error, got %v", err)
	}
}

// A panic while the file system is walked (directory records, Rock Ridge)
// fails the whole inspection, even where the walk would skip the error.
func TestGuardedFSPanicFailsInspection(t *testing.T) {
	g := &guard{name: "x.iso"}
	fsys := guardFS(panicFS{}, g)
	if _, err := fsys.Open("live"); !errors.Is(err, ErrMalformedISO) {
		t.Fatalf("Open: want ErrMalformedISO, got %v", err)
	}
	im := &Image{FS: fsys, guard: g}
	if _, err := inspectImage(im, "x.iso"); !errors.Is(err, ErrMalformedISO) {
		t.Fatalf("inspect: want ErrMalformedISO, got %v", err)
	}
}

type panicFS struct{}

func (panicFS) Open(name string) (fs.File, error) {
	var rec []byte
	return nil, fmt.Errorf("%d", rec[len(name)+7]) // a short directory record, as go-diskfs reads it
}

func TestVolumeChecks(t *testing.T) {
	good := seedISOs(t, false)[0]
	for _, tc := range []struct {
		name string
		iso  []byte
		want string
	}{
		{"empty", nil, "fuzz.iso is empty (0 bytes), not an ISO image"},
		{"small", make([]byte, 4096), "fuzz.iso is 4096 bytes, too small"},
		{"zeros", make([]byte, 1<<20), "fuzz.iso is not an ISO 9660 image"},
	} {
		if _, err := inspectBytes(tc.iso); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, err)
		}
	}
	r, err := inspectBytes(good)
	if err != nil || len(r.Warnings) != 0 {
		t.Fatalf("whole ISO: %v, warnings %q", err, r.Warnings)
	}
	cut := good[:len(good)-isoSector]
	r, err = inspectBytes(cut)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "truncated") {
		t.Fatalf("truncated ISO: want a warning, got %q", r.Warnings)
	}
}

// An ISO path that is a FIFO is refused at once instead of blocking in open(2).
func TestInspectRefusesFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe.iso")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	_, err := Inspect(context.Background(), p)
	if !errors.Is(err, config.ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
		t.Fatalf("want ErrNotRegular, got %v", err)
	}
	_ = os.Remove(p)
}

// A path table claiming 64 MiB is refused before go-diskfs reads it.
func TestISOReadsCapped(t *testing.T) {
	bad := patchPVD(seedISOs(t, false)[0], 132, 4, 64<<20)
	_, err := inspectBytes(bad)
	if err == nil || !strings.Contains(err.Error(), "more than 16 MiB") { // go-diskfs wraps it with %v
		t.Fatalf("want a capped read, got %v", err)
	}
}

// A cancelled context stops an inspection at its next step into the ISO.
func TestInspectionStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := inspectBytesCtx(ctx, seedISOs(t, false)[0]); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

package compose

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestApplyDeviceDataBlockSizes writes a storage: data kit to a loop
// device at each block size the layout gives the ext4 data partition
// (1 KiB below 512 MiB, 4 KiB from there; never 2 KiB), with an ISO
// larger than one maximum extent (32768 blocks) of that size: F9, where
// the deferred allocation asked go-diskfs for 131072 1-KiB blocks at once
// and any ISO over 64 MiB failed. The stick is then checked with e2fsck
// -fn, debugfs's sha256 of every file (checkStick), and compose's own
// ext4 reader, with no QEMU.
func TestApplyDeviceDataBlockSizes(t *testing.T) {
	testenv.Tools(t, "xorriso", "sgdisk", "fsck.fat", "mcopy", "e2fsck", "debugfs", "mkfs.ext4")
	testenv.Loop(t)
	for _, c := range []struct {
		name       string
		pad        int // bytes appended to the ISO
		size       string
		stick      int64
		blockSize  int64
		dirty      bool // a stick full of random bytes, else zeros (sparse, cheaper)
		shortSkips bool
	}{
		{"1KiB", 70 << 20, "", 192 << 20, 1024, true, false},
		{"4KiB", 140 << 20, "size: 600MiB\n", 640 << 20, 4096, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.shortSkips && testing.Short() {
				testenv.Skip(t, "writes a 640 MiB stick; skipped with -short")
			}
			work := t.TempDir()
			a := padISO(t, liveISO(t, work, "alpha", "a"), c.pad, 1)
			m := kitWith(t, work, c.size+"firmware: [bios, uefi-x64]\nstorage: data", a)
			var dev string
			if c.dirty {
				dev = dirtyLoop(t, work, "stick", c.stick)
			} else {
				dev = loopDevice(t, c.stick)
			}
			k, err := Load(m.File, Options{})
			if err != nil {
				t.Fatal(err)
			}
			k.fetchOpts.CacheDir = filepath.Join(work, "cache")
			res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if r := res.Devices[0]; !r.Complete || !r.Verified {
				t.Fatalf("device: %+v", r)
			}
			data := res.Plan.lay.Partition(disk.FSExt4)
			if data == nil {
				t.Fatal("no data partition")
			}
			if bs := deviceBlockSize(t, dev, data.Offset); bs != c.blockSize {
				t.Fatalf("the data partition has %d-byte blocks; the case is for %d", bs, c.blockSize)
			}
			checkStick(t, work, res.Plan, dev)
			readWithOwnExt4(t, dev, data)
		})
	}
}

func deviceBlockSize(t *testing.T, dev string, off int64) int64 {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, off+1024+0x18); err != nil {
		t.Fatal(err)
	}
	return 1024 << binary.LittleEndian.Uint32(b)
}

// readWithOwnExt4 reads every file of the data partition through
// compose's ext4 reader (the one converge uses) and compares its sha256
// with its source's.
func readWithOwnExt4(t *testing.T, dev string, data *disk.Partition) {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, _, err := converge.OpenExt4(f, data.Offset)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range data.Files {
		r, err := v.Open(file.Path)
		if err != nil {
			t.Fatalf("%s: %v", file.Path, err)
		}
		want := file.Size
		if file.Source == "" {
			want = int64(len(file.Data))
		}
		if r.Size() != want {
			t.Fatalf("%s: compose's ext4 reader says %d bytes, want %d", file.Path, r.Size(), want)
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatalf("%s: %v", file.Path, err)
		}
		if got, want := hex.EncodeToString(h.Sum(nil)), wantDigest(t, file); got != want {
			t.Fatalf("%s: compose's ext4 reader reads sha256 %s, want %s", file.Path, got, want)
		}
	}
}

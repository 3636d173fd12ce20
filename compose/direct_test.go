package compose

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestApplyDeviceDirect writes a fresh kit to two loop devices at once
// with TMPDIR on a 64 MiB tmpfs, smaller than the kit: the ISOs must go
// from the cache straight to the sticks. The sticks start full of random
// bytes under an old ext4 signature, so nothing may rely on zeros. With
// storage: auto the ISOs are on the FAT32 ESP, with storage: data on ext4.
// Every file on both sticks is read back with tools that are not compose's
// and checked against its source; fsck.fat, e2fsck and sgdisk accept them.
func TestApplyDeviceDirect(t *testing.T) {
	testenv.Tools(t, "xorriso", "sgdisk", "fsck.fat", "mcopy", "e2fsck", "debugfs", "mkfs.ext4", "mount", "umount")
	testenv.Loop(t)
	for _, storage := range []string{"auto", "data"} {
		t.Run(storage, func(t *testing.T) {
			work := t.TempDir()
			a := padISO(t, liveISO(t, work, "alpha", "a"), 40<<20, 1)
			b := padISO(t, liveISO(t, work, "beta", "b"), 40<<20, 2)
			m := kitWith(t, work, "firmware: [bios, uefi-x64]\nstorage: "+storage, a, b)
			devs := []string{dirtyLoop(t, work, "one", 256<<20), dirtyLoop(t, work, "two", 256<<20)}
			k, err := Load(m.File, Options{})
			if err != nil {
				t.Fatal(err)
			}
			k.fetchOpts.CacheDir = filepath.Join(work, "cache")
			tmp := smallTmp(t, 64<<20)
			var peak scratchPeak
			res, err := k.Apply(context.Background(), ApplyOptions{Devices: devs, Force: true,
				Progress: func(Event) { peak.sample(tmp) }})
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			t.Logf("scratch space used at most: %d KiB of the 64 MiB tmpfs; kit %d MiB", peak.max>>10, res.Plan.Size>>20)
			if peak.max > 16<<20 {
				t.Errorf("the scratch image took %d bytes: more than metadata", peak.max)
			}
			for i, r := range res.Devices {
				if !r.Complete || !r.Verified || r.Written < 80<<20 {
					t.Fatalf("device %d: %+v", i, r)
				}
				t.Logf("%s: %d MiB written", r.Device, r.Written>>20)
				checkStick(t, work, res.Plan, r.Device)
			}
		})
	}
}

// TestApplyDeviceRefetchesChangedSource changes an ISO's cache entry while
// it is being streamed to the stick: the digest check catches it, the entry
// is fetched again and the stick written again, and ends up a good kit.
func TestApplyDeviceRefetchesChangedSource(t *testing.T) {
	testenv.Tools(t, "xorriso", "sgdisk", "fsck.fat", "mcopy", "mkfs.ext4")
	testenv.Loop(t)
	work := t.TempDir()
	a := padISO(t, liveISO(t, work, "alpha", "a"), 8<<20, 1)
	b := padISO(t, liveISO(t, work, "beta", "b"), 40<<20, 2)
	m := kit(t, work, "bios, uefi-x64", a, b)
	dev := dirtyLoop(t, work, "one", 192<<20)
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(work, "cache")
	entry := filepath.Join(k.fetchOpts.CacheDir, "sha256", sha256File(t, b))
	var once sync.Once
	spoil := func(e Event) {
		if e.Phase != PhaseWrite || e.Done == 0 {
			return
		}
		once.Do(func() {
			f, err := os.OpenFile(entry, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			defer f.Close()
			if _, err := f.WriteAt([]byte("spoiled"), 39<<20); err != nil {
				t.Error(err)
			}
		})
	}
	res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true, Progress: spoil})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res.Refetched) != 1 || res.Refetched[0] != "beta" {
		t.Fatalf("refetched %v, want [beta]", res.Refetched)
	}
	checkStick(t, work, res.Plan, dev)
}

// padISO appends n random bytes to an ISO (it reads as before) so the kit
// is bigger than the scratch tmpfs and not sparse.
func padISO(t *testing.T, iso string, n int, seed uint64) string {
	t.Helper()
	f, err := os.OpenFile(iso, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(randomBytes(n, seed)); err != nil {
		t.Fatal(err)
	}
	return iso
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed)})
	r.Read(b)
	return b
}

// dirtyLoop attaches a stick that held something else: random bytes
// everywhere and an old ext4 file system over them.
func dirtyLoop(t *testing.T, dir, name string, size int64) string {
	t.Helper()
	backing := filepath.Join(dir, name+".stick")
	if err := os.WriteFile(backing, randomBytes(int(size), uint64(len(name))), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "mkfs.ext4", "-q", "-F", "-E", "nodiscard", "-L", "OLDSTICK", backing) // discard would punch the random bytes out
	if r := randomShare(t, backing); r < 0.75 {
		t.Fatalf("only %.0f%% of the old stick's blocks hold random bytes after mkfs.ext4", 100*r)
	}
	dev := strings.TrimSpace(testenv.Run(t, "losetup", "-f", "--show", backing))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	return dev
}

// randomShare is the share of path's 4 KiB blocks that hold few zero
// bytes, as random data does.
func randomShare(t *testing.T, path string) float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, random := 0, 0
	for ; len(b) >= 4096; b = b[4096:] {
		n++
		if bytes.Count(b[:4096], []byte{0}) < 256 {
			random++
		}
	}
	return float64(random) / float64(n)
}

// smallTmp mounts a tmpfs of size bytes and makes it TMPDIR.
func smallTmp(t *testing.T, size int64) string {
	t.Helper()
	mnt := t.TempDir()
	testenv.Run(t, "mount", "-t", "tmpfs", "-o", "size="+strconv.FormatInt(size, 10), "tmpfs", mnt)
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	t.Setenv("TMPDIR", mnt)
	return mnt
}

// scratchPeak samples how much of a file system is in use.
type scratchPeak struct {
	mu  sync.Mutex
	max int64
}

func (p *scratchPeak) sample(dir string) {
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) != nil {
		return
	}
	used := int64(st.Blocks-st.Bfree) * st.Bsize
	p.mu.Lock()
	p.max = max(p.max, used)
	p.mu.Unlock()
}

// checkStick checks a written stick with independent tools: sgdisk -v on
// the device, fsck.fat -n / e2fsck -fn on each partition, and every file
// the plan placed read back (mcopy, debugfs) against its source.
func checkStick(t *testing.T, work string, p *Plan, dev string) {
	t.Helper()
	if out := testenv.Run(t, "sgdisk", "-v", dev); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v %s:\n%s", dev, out)
	}
	for _, pt := range p.lay.Partitions {
		part := filepath.Join(work, "part.img")
		extract(t, dev, part, pt.Offset, pt.Size)
		switch pt.FS {
		case disk.FSFAT32:
			testenv.Run(t, "fsck.fat", "-n", part)
		case disk.FSExt4:
			testenv.Run(t, "e2fsck", "-fn", part)
			checkJournalZeroed(t, work, part)
		default:
			continue
		}
		for _, f := range pt.Files {
			back := filepath.Join(work, "back")
			if pt.FS == disk.FSFAT32 {
				testenv.Run(t, "mcopy", "-n", "-i", part, "::"+f.Path, back)
			} else {
				testenv.Run(t, "debugfs", "-R", "dump "+f.Path+" "+back, part)
			}
			if got, want := sha256File(t, back), wantDigest(t, f); got != want {
				t.Fatalf("%s: %s read back with sha256 %s, want %s", dev, f.Path, got, want)
			}
			os.Remove(back)
		}
		os.Remove(part)
	}
}

// checkJournalZeroed checks that the journal (inode 8) of the ext4 volume
// part holds nothing after its superblock: a stale block of the stick's
// old contents there could pass for a transaction to replay.
func checkJournalZeroed(t *testing.T, work, part string) {
	t.Helper()
	j := filepath.Join(work, "journal")
	testenv.Run(t, "debugfs", "-R", "dump <8> "+j, part)
	b, err := os.ReadFile(j)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(j)
	if len(b) < 1024 || binary.BigEndian.Uint32(b) != 0xc03b3998 {
		t.Fatalf("inode 8 is not a jbd2 journal (%d bytes)", len(b))
	}
	bs := int(binary.BigEndian.Uint32(b[12:]))
	for i, c := range b[bs:] {
		if c != 0 {
			t.Fatalf("the journal holds old bytes at %d of %d", bs+i, len(b))
		}
	}
}

func wantDigest(t *testing.T, f disk.File) string {
	if f.Source != "" {
		return sha256File(t, f.Source)
	}
	s := sha256.Sum256(f.Data)
	return hex.EncodeToString(s[:])
}

// TestApplyDeviceTooSmall: a kit larger than the stick is refused before
// anything is built or written; the stick keeps every byte it held.
func TestApplyDeviceTooSmall(t *testing.T) {
	testenv.Tools(t, "xorriso", "mkfs.ext4")
	testenv.Loop(t)
	work := t.TempDir()
	a := padISO(t, liveISO(t, work, "alpha", "a"), 80<<20, 1)
	m := kit(t, work, "bios, uefi-x64", a)
	dev := dirtyLoop(t, work, "small", 64<<20)
	before := sha256File(t, filepath.Join(work, "small.stick"))
	k, err := Load(m.File, Options{})
	if err != nil {
		t.Fatal(err)
	}
	k.fetchOpts.CacheDir = filepath.Join(work, "cache")
	confirmed := false
	res, err := k.Apply(context.Background(), ApplyOptions{Devices: []string{dev}, Force: true,
		Confirm: func([]Stick) error { confirmed = true; return nil }})
	if !errors.Is(err, ErrUnsafeTarget) || !strings.Contains(err.Error(), "smaller") {
		t.Fatalf("Apply: got %v, want a refusal for a stick smaller than the kit", err)
	}
	if res != nil || confirmed {
		t.Errorf("went on after the refusal: result %+v, confirmed %t", res, confirmed)
	}
	if sha256File(t, filepath.Join(work, "small.stick")) != before {
		t.Error("the refused stick was changed")
	}
}

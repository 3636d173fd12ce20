package device

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/compose/internal/zero"
)

var force = WriteOptions{Check: CheckOptions{Force: true}} // loop devices are not removable

type recorder struct{ events []Event }

func (r *recorder) add(e Event) { r.events = append(r.events, e) }

func (r *recorder) last(dev string, p Phase) (Event, bool) {
	for i := len(r.events) - 1; i >= 0; i-- {
		if e := r.events[i]; e.Device == dev && e.Phase == p {
			return e, true
		}
	}
	return Event{}, false
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func readRange(t *testing.T, path string, s span) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, s.len())
	if _, err := f.ReadAt(b, s.Off); err != nil {
		t.Fatal(err)
	}
	return b
}

// checkStick proves the stick is a good kit: sgdisk finds no problem, the
// backup GPT sits at the device's last LBA, the ESP passes fsck.fat and
// gives back the payload.
func checkStick(t *testing.T, raw string, esp span, payload []byte) {
	t.Helper()
	testenv.Tools(t, "sgdisk", "fsck.fat", "mcopy")
	if out := testenv.Run(t, "sgdisk", "-v", raw); !strings.Contains(out, "No problems found") {
		t.Fatalf("sgdisk -v:\n%s", out)
	}
	fi, err := os.Stat(raw)
	if err != nil {
		t.Fatal(err)
	}
	last := readRange(t, raw, span{fi.Size() - 512, fi.Size()})
	if string(last[:8]) != "EFI PART" || binary.LittleEndian.Uint64(last[24:]) != uint64(fi.Size()/512-1) {
		t.Fatalf("no backup GPT header at the last LBA of the device")
	}
	part := filepath.Join(t.TempDir(), "esp.fat")
	if err := os.WriteFile(part, readRange(t, raw, esp), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "fsck.fat", "-n", part)
	out := filepath.Join(t.TempDir(), "payload")
	testenv.Run(t, "mcopy", "-i", part, "::/PAYLOAD.BIN", out)
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("payload read back from the stick differs")
	}
}

func TestWriteLoopDevice(t *testing.T) {
	for _, devSize := range []int64{64 * MiB, 96 * MiB} {
		t.Run(fmt.Sprintf("device %d MiB", devSize/MiB), func(t *testing.T) {
			dir := t.TempDir()
			payload := randomBytes(20*int(MiB), 1)
			img, esp := testImage(t, dir, 64*MiB, payload)
			raw := backing(t, dir, devSize)
			dev := loopDev(t, raw)
			rec := &recorder{}
			start := time.Now()
			res := Write(context.Background(), img, []string{dev}, force, rec.add)[0]
			t.Logf("write took %v", time.Since(start))
			if res.Err != nil || !res.Complete || !res.Verified {
				t.Fatalf("result: %+v", res)
			}
			// Holes were skipped: far less than the image was written.
			if res.Written < int64(len(payload)) || res.Written > 32*MiB {
				t.Errorf("wrote %d bytes for a 64 MiB image with 20 MiB of payload", res.Written)
			}
			checkStick(t, raw, esp, payload)
			// Old data survives only where the image has holes the FAT does not use.
			espBytes := readRange(t, raw, esp)
			if !bytes.Contains(espBytes, []byte("OLD-DATA")) {
				t.Errorf("no old data left in the ESP: holes were written, not skipped")
			}
			if bytes.Contains(espBytes[:MiB], []byte("OLD-DATA")) {
				t.Errorf("old data left in the first MiB of the ESP")
			}
			for _, p := range []Phase{PhaseOpen, PhaseWrite, PhaseSync, PhaseVerify, PhaseDone} {
				if _, ok := rec.last(dev, p); !ok {
					t.Errorf("no %s event", p)
				}
			}
			if e, _ := rec.last(dev, PhaseWrite); e.Done != e.Total || e.Total != res.Written {
				t.Errorf("last write event %d/%d, wrote %d", e.Done, e.Total, res.Written)
			}
			// A second write of the same image leaves the same bytes.
			first := fileSum(t, raw)
			again := Write(context.Background(), img, []string{dev}, force, nil)[0]
			if !again.Complete || again.SHA256 != res.SHA256 || fileSum(t, raw) != first {
				t.Errorf("second write differs: %+v", again)
			}
		})
	}
}

func TestWriteRefusesWithoutWriting(t *testing.T) {
	dir := t.TempDir()
	img, _ := testImage(t, dir, 64*MiB, randomBytes(int(MiB), 2))
	small := loopDev(t, backing(t, t.TempDir(), 32*MiB))
	stick := filepath.Join(t.TempDir(), "stick.raw")
	fine := loopDev(t, backing(t, filepath.Dir(stick), 64*MiB))
	cases := []struct {
		dev  string
		opts WriteOptions
		code ReasonCode
	}{
		{fine, WriteOptions{}, NotRemovable},
		{small, force, TooSmall},
		{img, force, NotBlockDevice},
	}
	for _, c := range cases {
		raw := c.dev
		if strings.HasPrefix(c.dev, "/dev/") {
			raw = backingOf(t, c.dev)
		}
		before := fileSum(t, raw)
		res := Write(context.Background(), img, []string{c.dev}, c.opts, nil)[0]
		var ue *UnsafeTargetError
		if !errors.As(res.Err, &ue) || !ue.Has(c.code) || !errors.Is(res.Err, ErrUnsafeTarget) || res.Complete || res.Written != 0 {
			t.Errorf("%s: want refusal %s, got %+v", c.dev, c.code, res)
		}
		if !strings.Contains(res.Err.Error(), c.dev) {
			t.Errorf("error does not name the device: %v", res.Err)
		}
		if fileSum(t, raw) != before {
			t.Errorf("%s: refused but written to", c.dev)
		}
	}
}

// backingOf asks losetup which file is behind a loop device.
func backingOf(t *testing.T, dev string) string {
	t.Helper()
	return strings.TrimSpace(testenv.Run(t, "losetup", "-n", "-O", "BACK-FILE", dev))
}

// TestWriteRefusesMounted mounts a stick two ways a user might: its file
// system directly, and one at an offset (through a second loop device over
// the stick, as "mount -o offset" makes; this kernel scans no partitions
// of loop devices). Both must be refused and left untouched.
func TestWriteRefusesMounted(t *testing.T) {
	testenv.Tools(t, "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	img, _ := testImage(t, dir, 64*MiB, randomBytes(int(MiB), 3))
	for _, off := range []int64{0, MiB} {
		t.Run(fmt.Sprint("offset ", off), func(t *testing.T) {
			raw := backing(t, t.TempDir(), 64*MiB)
			testenv.Run(t, "mkfs.ext4", "-q", "-F", "-E", "offset="+itoa(off), raw, "16M")
			dev := loopDev(t, raw)
			mnt := t.TempDir()
			mopts := "ro"
			if off > 0 {
				mopts += ",offset=" + itoa(off)
			}
			out, err := exec.Command("mount", "-t", "ext4", "-o", mopts, dev, mnt).CombinedOutput()
			testenv.Require(t, err == nil, "cannot mount ext4 here: "+string(out))
			t.Cleanup(func() { testenv.Run(t, "umount", mnt) })
			d, err := Lookup(Root{}, dev)
			if err != nil {
				t.Fatal(err)
			}
			var ue *UnsafeTargetError
			want := dev + " on " + mnt
			if off > 0 {
				want += " (via loop"
			}
			if err := Check(d, MiB, force.Check); !errors.As(err, &ue) || !ue.Has(Mounted) || !strings.Contains(err.Error(), want) {
				t.Errorf("Check of a mounted loop device: %v", err)
			}
			before := fileSum(t, raw)
			res := Write(context.Background(), img, []string{dev}, force, nil)[0]
			if !errors.Is(res.Err, ErrUnsafeTarget) || res.Written != 0 || !strings.Contains(res.Err.Error(), dev) {
				t.Errorf("write to a mounted device: %+v", res)
			}
			t.Logf("refused: %v", res.Err)
			if fileSum(t, raw) != before {
				t.Errorf("mounted device was written to")
			}
		})
	}
}

// TestWriteFailingDevice writes to a healthy device and to one whose
// backing store (a tiny tmpfs) runs out mid-write, at the same time.
func TestWriteFailingDevice(t *testing.T) {
	dir := t.TempDir()
	payload := randomBytes(40*int(MiB), 4)
	img, esp := testImage(t, dir, 64*MiB, payload)
	testenv.Loop(t)
	mnt := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt).CombinedOutput()
	testenv.Require(t, err == nil, "cannot mount a tmpfs: "+string(out))
	t.Cleanup(func() { testenv.Run(t, "umount", mnt) })
	sick := filepath.Join(mnt, "sick.raw")
	if err := os.Truncate(mustCreate(t, sick), 64*MiB); err != nil {
		t.Fatal(err)
	}
	bad := loopDev(t, sick)
	goodRaw := backing(t, t.TempDir(), 80*MiB)
	good := loopDev(t, goodRaw)
	rec := &recorder{}
	res := Write(context.Background(), img, []string{bad, good}, force, rec.add)
	if res[0].Complete || !errors.Is(res[0].Err, ErrIncomplete) {
		t.Fatalf("failing device: %+v", res[0])
	}
	msg := res[0].Err.Error()
	if !strings.Contains(msg, bad) || !strings.Contains(msg, "writing at offset") {
		t.Errorf("unclear error: %s", msg)
	}
	if e, ok := rec.last(bad, PhaseFailed); !ok || e.Err == nil {
		t.Errorf("no failed event for %s", bad)
	}
	if !res[1].Complete || res[1].Err != nil {
		t.Fatalf("healthy device next to a failing one: %+v", res[1])
	}
	checkStick(t, goodRaw, esp, payload)
}

func TestWriteCancel(t *testing.T) {
	dir := t.TempDir()
	img, _ := testImage(t, dir, 64*MiB, randomBytes(40*int(MiB), 5))
	raw := backing(t, dir, 64*MiB)
	dev := loopDev(t, raw)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := force
	opts.ChunkSize = int(MiB)
	res := Write(ctx, img, []string{dev}, opts, func(e Event) {
		if e.Phase == PhaseWrite && e.Done >= 4*MiB {
			cancel()
		}
	})[0]
	if res.Complete || res.Verified || !errors.Is(res.Err, ErrIncomplete) || !errors.Is(res.Err, context.Canceled) {
		t.Fatalf("cancelled write: %+v", res)
	}
	if res.Written < 4*MiB || res.Written > 20*MiB {
		t.Errorf("wrote %d bytes before stopping", res.Written)
	}
	// The stick shows no partition table at all, old or new.
	head := readRange(t, raw, span{0, MiB})
	tail := readRange(t, raw, span{63 * MiB, 64 * MiB})
	if !zero.All(head) || !zero.All(tail) {
		t.Errorf("an interrupted stick still carries a partition table")
	}
}

// TestVerifyReadsTheDevice changes the stick behind the device's back
// (through its backing file, so the loop device's page cache still holds
// the right bytes): verification must see it, direct or buffered.
func TestVerifyReadsTheDevice(t *testing.T) {
	for _, mode := range []DirectMode{DirectOn, DirectOff} {
		t.Run(fmt.Sprint("direct mode ", mode), func(t *testing.T) {
			dir := t.TempDir()
			img, esp := testImage(t, dir, 64*MiB, randomBytes(8*int(MiB), 6))
			raw := backing(t, dir, 64*MiB)
			dev := loopDev(t, raw)
			testHookBeforeVerify = func(string) {
				f, err := os.OpenFile(raw, os.O_WRONLY, 0)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				if _, err := f.WriteAt([]byte("bit rot"), esp.Off+2*MiB); err != nil {
					t.Error(err)
				}
			}
			defer func() { testHookBeforeVerify = nil }()
			opts := force
			opts.Direct = mode
			res := Write(context.Background(), img, []string{dev}, opts, nil)[0]
			if res.Complete || res.Verified || !errors.Is(res.Err, ErrVerify) || res.Direct != (mode == DirectOn) {
				t.Fatalf("corrupted stick: %+v", res)
			}
			opts.NoVerify = true
			testHookBeforeVerify = nil
			if res := Write(context.Background(), img, []string{dev}, opts, nil)[0]; !res.Complete || res.Verified {
				t.Errorf("no-verify write: %+v", res)
			}
		})
	}
}

func TestWriteBadImage(t *testing.T) {
	dir := t.TempDir()
	odd := filepath.Join(dir, "odd.img")
	if err := os.WriteFile(odd, make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range []string{odd, filepath.Join(dir, "missing.img"), dir} {
		res := Write(context.Background(), img, []string{"/dev/loop-nonexistent", "/dev/x"}, force, nil)
		for _, r := range res {
			if r.Err == nil || !strings.Contains(r.Err.Error(), "image") || r.Complete {
				t.Errorf("%s: %+v", img, r)
			}
		}
	}
	_ = io.EOF
}

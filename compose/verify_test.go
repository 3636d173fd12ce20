package compose

import (
	"context"
	"errors"
	"github.com/usbkit/compose/compose/pin"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/compose/internal/edit"
	"github.com/usbkit/compose/compose/internal/fatedit"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
)

// recorder notes where the last read from a target went.
type recorder struct {
	r    io.ReaderAt
	last int64
}

func (r *recorder) ReadAt(b []byte, off int64) (int, error) {
	r.last = off
	return r.r.ReadAt(b, off)
}

// physOffset is where byte at of the kit file path lies in img: on the
// ESP, or with data on the ext4 data partition.
func physOffset(t testing.TB, img, path string, data bool, at int64) int64 {
	t.Helper()
	tg, err := converge.ReadTarget(img)
	if err != nil || !tg.Kit {
		t.Fatalf("%s: %v %v", img, err, tg.Problems)
	}
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rec := &recorder{r: f}
	var v interface {
		Open(string) (*io.SectionReader, error)
	}
	if data {
		v, _, err = converge.OpenExt4(rec, tg.Offset(tg.State.DataIndex()))
	} else {
		v, err = fatedit.Open(readOnly{rec}, tg.Offset(tg.State.ESPIndex()))
	}
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(make([]byte, 1), at); err != nil {
		t.Fatal(err)
	}
	return rec.last
}

// flip XORs the bytes at off of path with 0xDEADBEEF's, as a bad sector
// or a stray write would change them.
func flip(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 4)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	for i, x := range []byte{0xDE, 0xAD, 0xBE, 0xEF} {
		b[i] ^= x
	}
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// statuses maps each verified file's path to its status.
func statuses(v *converge.Verification) map[string]string {
	out := map[string]string{}
	for _, f := range v.Files {
		out[f.Path] = f.Status
	}
	return out
}

// wantStatuses checks the named files' statuses and that every other
// file is ok, and that Damaged counts the damage.
func wantStatuses(t *testing.T, v *converge.Verification, want map[string]string) {
	t.Helper()
	damaged := 0
	for path, got := range statuses(v) {
		w := want[path]
		if w == "" {
			w = converge.StatusOK
		}
		if got != w {
			t.Errorf("%s: %s, want %s", path, got, w)
		}
		if w == converge.StatusChanged || w == converge.StatusMissing || w == converge.StatusUnreadable {
			damaged++
		}
	}
	for path := range want {
		if _, ok := statuses(v)[path]; !ok {
			t.Errorf("%s: not reported", path)
		}
	}
	if v.Damaged != damaged || v.OK != (damaged == 0) {
		t.Errorf("damaged %d ok %v, want %d", v.Damaged, v.OK, damaged)
	}
}

func verifyOne(t *testing.T, target string, opts ...VerifyOptions) (*converge.Verification, error) {
	t.Helper()
	o := VerifyOptions{}
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Targets = []string{target}
	vs, err := Verify(context.Background(), o)
	if len(vs) != 1 {
		t.Fatalf("verify %s: %d results, %v", target, len(vs), err)
	}
	return vs[0], err
}

// TestVerifyFindsWhatTheSampleMisses is the reproduction of issue 22's
// F8: four bytes flipped 200 MiB into a 300 MiB ISO inside the image. The
// plan and a plain apply, which sample the first and last 64 KiB, see no
// change and say that they sampled; Verify reads every byte and reports
// the ISO changed; apply with Verify fails with the same error.
func TestVerifyFindsWhatTheSampleMisses(t *testing.T) {
	testenv.Tools(t, "xorriso")
	dir := t.TempDir()
	iso := sparseISO(t, dir, "big", "g", 300<<20)
	m := kit(t, dir, "uefi-x64", iso)
	cache, img := filepath.Join(dir, "cache"), filepath.Join(dir, "kit.img")
	build(t, m, cache, img)
	if v, err := verifyOne(t, img); err != nil || !v.OK || !v.Direct || v.BytesRead < 300<<20 {
		t.Fatalf("the fresh kit: %+v, %v", v, err)
	}
	flip(t, img, physOffset(t, img, "/isos/big.iso", false, 200<<20))

	p := planAgainst(t, m, cache, img)
	if !p.Diff.NoChanges || p.Diff.ISOCheck != converge.ISOCheckSampled {
		t.Fatalf("plan: no changes %v, iso check %q", p.Diff.NoChanges, p.Diff.ISOCheck)
	}
	res, err := Build(context.Background(), p, BuildOptions{})
	if err != nil || !res.Incremental || len(res.Changes) > 0 || res.ISOCheck != converge.ISOCheckSampled || res.Verification != nil {
		t.Fatalf("a plain no-op apply: %+v, %v", res, err)
	}

	v, err := verifyOne(t, img)
	var de *converge.DamageError
	if !errors.Is(err, converge.ErrDamaged) || !errors.As(err, &de) || len(de.Files) != 1 || !strings.Contains(err.Error(), "/isos/big.iso changed (read sha256 ") {
		t.Fatalf("verify: %v", err)
	}
	wantStatuses(t, v, map[string]string{"/isos/big.iso": converge.StatusChanged})
	for _, f := range v.Files {
		if f.Path == "/isos/big.iso" && (f.Actual == f.Expected || f.Actual == "" || f.ActualSize != f.Size || f.Kind != "iso" || f.Name != "big") {
			t.Fatalf("the changed ISO: %+v", f)
		}
	}

	res, err = Build(context.Background(), planAgainst(t, m, cache, img), BuildOptions{Verify: true})
	if !errors.Is(err, converge.ErrDamaged) || res == nil || res.ISOCheck != converge.ISOCheckFull || res.Verification == nil || res.Verification.Damaged != 1 {
		t.Fatalf("apply with Verify: %+v, %v", res, err)
	}
}

// TestVerifyBootFiles: a boot file with a changed byte is changed, a
// removed one missing, a file compose did not write added (not damage),
// and core.img with a changed byte changed.
func TestVerifyBootFiles(t *testing.T) {
	testenv.Tools(t, "xorriso")
	_, _, img, _ := twoKits(t, "bios, uefi-x64")
	res, err := verifyOne(t, img)
	if err != nil || statuses(res)[converge.BIOSBootPath] != converge.StatusOK {
		t.Fatalf("the fresh kit: %v %v", statuses(res), err)
	}
	tg, _ := converge.ReadTarget(img)
	for _, p := range tg.Partitions {
		if p.Type == disk.TypeBIOSBoot {
			flip(t, img, p.Offset+1000)
		}
	}
	flip(t, img, physOffset(t, img, "/EFI/BOOT/grubx64.efi", false, 5000))
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fatedit.Open(f, tg.Offset(tg.State.ESPIndex()))
	if err != nil {
		t.Fatal(err)
	}
	notes := "mine\n"
	if _, err := v.Update(context.Background(), []edit.Change{{Path: "/EFI/BOOT/mmx64.efi", Remove: true},
		{Path: "/notes.txt", Size: int64(len(notes)), Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(notes)), nil }}}, edit.Options{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err = verifyOne(t, img)
	if !errors.Is(err, converge.ErrDamaged) || !strings.Contains(err.Error(), "3 files are damaged: ") {
		t.Fatalf("verify: %v", err)
	}
	wantStatuses(t, res, map[string]string{"/EFI/BOOT/grubx64.efi": converge.StatusChanged, "/EFI/BOOT/mmx64.efi": converge.StatusMissing, "/notes.txt": converge.StatusAdded,
		converge.BIOSBootPath: converge.StatusChanged})
}

// TestVerifyDataPartition: an ISO on the ext4 data partition with a
// changed byte is changed; a file an interrupted apply left under /isos
// is a leftover, not damage.
func TestVerifyDataPartition(t *testing.T) {
	testenv.Tools(t, "xorriso", "e2fsck")
	_, _, img, _ := dataKits(t)
	putData(t, img, map[string][]byte{"/isos/zeta-0123abcd.iso": []byte("zeta")})
	tg := checkKit(t, img)
	var beta converge.StateISO
	for _, i := range tg.State.ISOs {
		if i.Name == "beta" {
			beta = i
		}
	}
	if beta.Partition != tg.State.DataIndex() {
		t.Fatalf("beta is not on the data partition: %+v", beta)
	}
	flip(t, img, physOffset(t, img, beta.Path, true, beta.Size/2))
	if tg, err := converge.ReadTarget(img); err != nil || tg.Drift {
		t.Fatalf("the sample caught a change in the middle: %v", tg.Problems)
	}
	v, err := verifyOne(t, img)
	if !errors.Is(err, converge.ErrDamaged) {
		t.Fatalf("verify: %v", err)
	}
	wantStatuses(t, v, map[string]string{beta.Path: converge.StatusChanged, "/isos/zeta-0123abcd.iso": converge.StatusLeftover})
	for _, f := range v.Files {
		if f.Path == beta.Path && f.Partition != beta.Partition {
			t.Fatalf("beta reported on partition %d", f.Partition)
		}
	}
}

// TestVerifyReadsTheDevice changes a byte of an ISO in a loop device's
// backing file after the loop device's page cache was filled: a read
// through the cache still returns the old bytes, Verify must read the
// device (O_DIRECT) and see the change.
func TestVerifyReadsTheDevice(t *testing.T) {
	testenv.Tools(t, "xorriso", "losetup")
	testenv.Loop(t)
	_, _, img, _ := twoKits(t, "uefi-x64")
	loop := strings.TrimSpace(testenv.Run(t, "losetup", "--find", "--show", img))
	defer testenv.Run(t, "losetup", "-d", loop)
	if v, err := verifyOne(t, loop); err != nil || !v.OK || !v.Direct {
		t.Fatalf("the fresh kit on %s: %+v, %v", loop, v, err)
	}
	off := physOffset(t, img, "/isos/beta.iso", false, 40000)
	l, err := os.Open(loop)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := make([]byte, 4)
	l.ReadAt(before, off) // now in the loop device's page cache
	flip(t, img, off)
	cached := make([]byte, 4)
	l.ReadAt(cached, off)
	if string(cached) != string(before) {
		t.Logf("the loop device's cache did not keep the old bytes; the test shows less than it could")
	}
	v, err := verifyOne(t, loop)
	if !errors.Is(err, converge.ErrDamaged) || !v.Direct {
		t.Fatalf("verify %s: direct %v, %v", loop, v.Direct, err)
	}
	wantStatuses(t, v, map[string]string{"/isos/beta.iso": converge.StatusChanged})
}

// TestVerifyFallsBack: where O_DIRECT is refused, the cached pages are
// dropped and the result says so.
func TestVerifyFallsBack(t *testing.T) {
	testenv.Tools(t, "xorriso")
	_, _, img, _ := twoKits(t, "uefi-x64")
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	v, err := verifyFile(context.Background(), f, nil, nil, refuseDirect)
	if err != nil || !v.OK || v.Direct || len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], "read after dropping the page cache, not bypassing it: ") {
		t.Fatalf("verify: %+v, %v", v, err)
	}
}

// TestVerifyNotAKit: a target without a state record is ErrNotKit, and
// one that cannot be opened an error naming it.
func TestVerifyNotAKit(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "zeros.img")
	if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	vs, err := Verify(context.Background(), VerifyOptions{Targets: []string{img, filepath.Join(dir, "none.img")}})
	var nk *converge.NotKitError
	if len(vs) != 0 || !errors.Is(err, converge.ErrNotKit) || !errors.As(err, &nk) || nk.Target != img || !strings.Contains(err.Error(), "none.img") {
		t.Fatalf("verify: %v, %v", vs, err)
	}
}

// TestVerifyAfterApply: apply with Verify after an in-place change reads
// the whole new kit.
func TestVerifyAfterApply(t *testing.T) {
	testenv.Tools(t, "xorriso")
	_, cache, img, two := twoKits(t, "uefi-x64")
	res, err := Build(context.Background(), planAgainst(t, two, cache, img), BuildOptions{Verify: true})
	if err != nil || len(res.Changes) == 0 || res.ISOCheck != converge.ISOCheckFull || res.Verification == nil || !res.Verification.OK {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	if n := len(res.Verification.Files); n < 5 || res.Verification.BytesRead < 600<<10 {
		t.Fatalf("verified %d files, %d bytes", n, res.Verification.BytesRead)
	}
}

// TestVerifyAgainstTheLock: with a manifest, each ISO's recorded digest is
// compared with its lock: an ISO the lock pins otherwise, or does not
// name, is a note, not damage.
func TestVerifyAgainstTheLock(t *testing.T) {
	testenv.Tools(t, "xorriso")
	_, cache, img, two := twoKits(t, "uefi-x64")
	v, err := verifyOne(t, img, VerifyOptions{Manifest: two.File})
	if err != nil || v.Lock != "" || len(v.Notes) != 1 || !strings.Contains(v.Notes[0], "has none") {
		t.Fatalf("without a lock: %+v, %v", v, err)
	}
	l, err := pin.ResolveLock(context.Background(), two, newFetcher(t, cache))
	if err != nil {
		t.Fatal(err)
	}
	if err := config.WriteLock(config.LockPath(two), l); err != nil {
		t.Fatal(err)
	}
	v, err = verifyOne(t, img, VerifyOptions{Manifest: two.File})
	if err != nil || !v.OK || v.Lock == "" {
		t.Fatalf("with a lock: %+v, %v", v, err)
	}
	lock := map[string]string{}
	for _, f := range v.Files {
		if f.Kind == "iso" {
			lock[f.Name] = f.Lock
		}
	}
	if lock["alpha"] != "absent" || lock["beta"] != "differs" || len(v.Notes) != 2 {
		t.Fatalf("lock comparison %v, notes %q", lock, v.Notes)
	}
}

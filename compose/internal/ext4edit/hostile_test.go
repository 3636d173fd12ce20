package ext4edit

import (
	"errors"
	"io"
	"math/rand"
	"os"
	"sort"
	"testing"
)

// memDev is an image in memory with a patch laid over it; writes go to
// a private overlay, so one base serves many cases.
type memDev struct {
	base  []byte
	patch map[int64]byte
	own   bool
}

func (d *memDev) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 || off >= int64(len(d.base)) {
		return 0, io.EOF
	}
	n := copy(b, d.base[off:])
	for at, v := range d.patch {
		if at >= off && at < off+int64(n) {
			b[at-off] = v
		}
	}
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

// WriteAt writes to a private copy of the base, made on the first write.
func (d *memDev) WriteAt(b []byte, off int64) (int, error) {
	if !d.own {
		d.base, d.own = append([]byte(nil), d.base...), true
	}
	if off < 0 || off+int64(len(b)) > int64(len(d.base)) {
		return 0, io.ErrShortWrite
	}
	for i := range b {
		delete(d.patch, off+int64(i))
	}
	return copy(d.base[off:], b), nil
}

// exercise opens dev and reads everything it can, as a caller would; it
// must return errors, never panic.
func exercise(dev Device) error {
	v, err := Open(dev, 0)
	if err != nil {
		return err
	}
	if v.NeedsRecovery() {
		if err := v.Recover(); err != nil {
			return err
		}
	}
	for _, f := range v.Files() {
		r, err := v.Open(f.Path)
		if err != nil {
			continue
		}
		_, _ = io.Copy(io.Discard, io.NewSectionReader(r, 0, min(r.Size(), 1<<20)))
	}
	_ = v.Free()
	return nil
}

func baseImage(t testing.TB) []byte {
	t.Helper()
	tt, ok := t.(*testing.T)
	if !ok {
		t.Fatal("baseImage needs a *testing.T")
	}
	old, _, _ := scenario()
	img := journaled(tt, 64<<20, old)
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOpenRefusesHostileVolumes(t *testing.T) {
	base := baseImage(t)
	if err := exercise(&memDev{base: base, patch: map[int64]byte{}}); err != nil {
		t.Fatalf("the intact volume: %v", err)
	}
	set := func(off int64, v ...byte) map[int64]byte {
		p := map[int64]byte{}
		for i, x := range v {
			p[off+int64(i)] = x
		}
		return p
	}
	for name, c := range map[string]struct {
		dev  Device
		want error
	}{
		"truncated":       {&memDev{base: base[:1500], patch: map[int64]byte{}}, nil},
		"empty":           {&memDev{base: nil, patch: map[int64]byte{}}, nil},
		"garbage":         {&memDev{base: garbage(1 << 20), patch: set(sbOffset+sbMagic, 0x53, 0xef)}, nil},
		"metadata_csum":   {&memDev{base: base, patch: set(sbOffset+sbROCompat+1, base[sbOffset+sbROCompat+1]|0x04)}, ErrUnsupported},
		"meta_bg":         {&memDev{base: base, patch: set(sbOffset+sbIncompat, base[sbOffset+sbIncompat]|0x10)}, ErrUnsupported},
		"no journal":      {&memDev{base: base, patch: set(sbOffset+sbCompat, base[sbOffset+sbCompat]&^compatHasJournal)}, ErrNoJournal},
		"descriptor size": {&memDev{base: base, patch: set(sbOffset+sbDescSize+1, 3)}, ErrUnsupported}, // 832 bytes: crosses blocks (found by fuzzing)
		"journal magic":   {&memDev{base: base, patch: journalPatch(t, base, 0, 0)}, ErrUnsupported},
	} {
		err := exercise(c.dev)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
	}
}

func garbage(n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(1)).Read(b)
	return b
}

// journalPatch overwrites byte at of the journal superblock with v.
func journalPatch(t *testing.T, base []byte, at int64, v byte) map[int64]byte {
	v0, err := Open(&memDev{base: base, patch: map[int64]byte{}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := v0.j.phys(0)
	return map[int64]byte{p*v0.g.BlockSize + at: v}
}

// TestOpenSurvivesCorruption flips random bytes in the metadata of a real
// volume (superblock, descriptors, bitmaps, inode tables, directories,
// journal superblock) and checks that Open and reads return errors or
// data, never panic or hang.
func TestOpenSurvivesCorruption(t *testing.T) {
	base := baseImage(t)
	v, err := Open(&memDev{base: base, patch: map[int64]byte{}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	jsb, _ := v.j.phys(0)
	var hot []int64 // byte ranges worth corrupting
	for _, b := range append([]int64{v.g.sbBlock, jsb}, v.m.order...) {
		hot = append(hot, b)
	}
	for n := range v.m.cache {
		hot = append(hot, n)
	}
	r := rand.New(rand.NewSource(15))
	for i := 0; i < 400; i++ {
		p := map[int64]byte{}
		for k := 0; k < 1+r.Intn(4); k++ {
			blk := hot[r.Intn(len(hot))]
			p[blk*v.g.BlockSize+int64(r.Intn(int(v.g.BlockSize)))] = byte(r.Intn(256))
		}
		_ = exercise(&memDev{base: base, patch: p})
	}
}

// FuzzOpen patches up to two bytes of the metadata blocks of a real
// volume (the blocks Open reads, the superblock and the journal
// superblock) and runs Open, Recover and reads on it.
func FuzzOpen(f *testing.F) {
	f.Add(uint32(sbOffset+sbIncompat), byte(0xff), uint32(0), byte(0))
	f.Add(uint32(sbOffset+sbPerGroup), byte(0), uint32(7), byte(1))
	f.Add(uint32(2048+8), byte(0x77), uint32(9999), byte(0x80))
	var base []byte
	var hot []int64
	var bs int64
	f.Fuzz(func(t *testing.T, a uint32, x byte, b uint32, y byte) {
		if base == nil {
			base = baseImage(t)
			v, err := Open(&memDev{base: base, patch: map[int64]byte{}}, 0)
			if err != nil {
				t.Fatal(err)
			}
			jsb, _ := v.j.phys(0)
			hot, bs = []int64{v.g.sbBlock, jsb}, v.g.BlockSize
			for n := range v.m.cache {
				hot = append(hot, n)
			}
			sort.Slice(hot, func(i, j int) bool { return hot[i] < hot[j] })
		}
		at := func(s uint32) int64 { return hot[int(s)%len(hot)]*bs + int64(s/uint32(len(hot)))%bs }
		_ = exercise(&memDev{base: base, patch: map[int64]byte{at(a): x, at(b): y}})
	})
}

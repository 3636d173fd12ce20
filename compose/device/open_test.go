package device

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A device is checked (and confirmed) under one device number; when the
// path compose opens leads elsewhere by then (a node or link replaced),
// Write and Open refuse it and it is not written.
func TestOpenedDeviceIsTheOneChecked(t *testing.T) {
	dir := t.TempDir()
	img, _ := testImage(t, dir, 64*MiB, randomBytes(int(MiB), 3))
	checkedDev := loopDev(t, backing(t, t.TempDir(), 64*MiB))
	otherRaw := backing(t, t.TempDir(), 64*MiB)
	other := loopDev(t, otherRaw)
	checked, err := Lookup(HostRoot(), checkedDev)
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "stick")
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	swapped := checked
	swapped.Path = link // what the path checked leads to now
	before := fileSum(t, otherRaw)

	opts := force
	opts.Checked = []Device{swapped}
	res := Write(context.Background(), img, []string{link}, opts, nil)[0]
	var ue *UnsafeTargetError
	if !errors.As(res.Err, &ue) || !ue.Has(Changed) || res.Written != 0 {
		t.Errorf("Write to a path that leads to another device: %+v", res)
	}
	if f, err := Open(swapped); !errors.As(err, &ue) || !ue.Has(Changed) {
		if f != nil {
			f.Close()
		}
		t.Errorf("Open of a path that leads to another device: %v", err)
	}
	if fileSum(t, otherRaw) != before {
		t.Error("the other device was written")
	}
	f, err := Open(checked)
	if err != nil {
		t.Fatalf("Open of the device checked: %v", err)
	}
	f.Close()
}

// With WriteOptions.Image the image written is the file open, not what
// its path names by the time the device is written.
func TestWriteReadsTheOpenImage(t *testing.T) {
	dir := t.TempDir()
	payload := randomBytes(2*int(MiB), 4)
	img, esp := testImage(t, dir, 64*MiB, payload)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, _ := testImage(t, t.TempDir(), 64*MiB, randomBytes(2*int(MiB), 5))
	if err := os.Rename(other, img); err != nil { // the path now names another image
		t.Fatal(err)
	}
	raw := backing(t, t.TempDir(), 64*MiB)
	dev := loopDev(t, raw)
	opts := force
	opts.Image = f
	if res := Write(context.Background(), img, []string{dev}, opts, nil)[0]; !res.Complete {
		t.Fatalf("result: %+v", res)
	}
	checkStick(t, raw, esp, payload)
}

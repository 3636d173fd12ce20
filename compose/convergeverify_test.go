package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/directio"
	"github.com/usbkit/compose/compose/internal/testenv"
)

// TestConvergeVerifyReadsTheDevice changes a kit on a loop device in place
// and, once the new files are written and synced but before they are read
// back, changes a byte of the new beta ISO in the loop's backing file. The
// loop device's page cache still holds the bytes compose wrote; the
// read-back must read the device (O_DIRECT), see the change and fail.
func TestConvergeVerifyReadsTheDevice(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat", "losetup")
	testenv.Loop(t)
	_, cache, img, two := twoKits(t, "bios, uefi-x64")
	loop := strings.TrimSpace(testenv.Run(t, "losetup", "--find", "--show", img))
	defer testenv.Run(t, "losetup", "-d", loop)
	p := planAgainst(t, two, cache, loop)
	marker := []byte("initrd b2") // only in the new beta
	var cached, corrupted bool
	opts := BuildOptions{beforeVerify: func() {
		b, err := os.ReadFile(img)
		i := bytes.Index(b, marker)
		if err != nil || i < 0 {
			return // the first of several steps, or not yet written
		}
		f, err := os.OpenFile(img, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte("X"), int64(i)); err != nil {
			t.Error(err)
		}
		corrupted = true
		// What a read through the page cache returns now.
		l, err := os.Open(loop)
		if err != nil {
			t.Error(err)
			return
		}
		defer l.Close()
		got := make([]byte, len(marker))
		l.ReadAt(got, int64(i))
		cached = bytes.Equal(got, marker)
	}}
	res, err := Build(context.Background(), p, opts)
	if !corrupted {
		t.Fatal("the new beta was not found on the loop device to corrupt it")
	}
	if err == nil || !strings.Contains(err.Error(), "verifying /isos/beta.iso: read back sha256") {
		t.Fatalf("the read-back did not catch the changed byte: %v", err)
	}
	if res == nil || !res.Direct || len(res.Warnings) > 0 {
		t.Fatalf("the read-back did not bypass the page cache: %+v", res)
	}
	t.Logf("a cached read still returned the bytes written: %v; the read-back failed: %v", cached, err)
}

// TestConvergeVerifyFallsBack: where O_DIRECT is refused, the read-back
// drops the cached pages instead and the result says why.
func TestConvergeVerifyFallsBack(t *testing.T) {
	testenv.Tools(t, "xorriso", "fsck.fat")
	_, cache, img, two := twoKits(t, "uefi-x64")
	res, err := Build(context.Background(), planAgainst(t, two, cache, img), BuildOptions{openDirect: refuseDirect})
	if err != nil {
		t.Fatal(err)
	}
	if res.Direct || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "read back after dropping the page cache, not bypassing it: ") {
		t.Fatalf("result: direct %v, warnings %q", res.Direct, res.Warnings)
	}
	checkKit(t, img)
}

// refuseDirect refuses O_DIRECT as a file system without it does.
func refuseDirect(f *os.File) (*directio.Reader, error) {
	return nil, fmt.Errorf("%s: %w: its file system does not support O_DIRECT", f.Name(), directio.ErrRefused)
}

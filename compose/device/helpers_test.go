package device

import (
	"bytes"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose/internal/testenv"
)

// backing makes a file of size bytes full of non-zero garbage, like a
// stick that held something else before.
func backing(t *testing.T, dir string, size int64) string {
	t.Helper()
	path := filepath.Join(dir, "stick.raw")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	junk := bytes.Repeat([]byte("OLD-DATA"), int(MiB)/8)
	for off := int64(0); off < size; off += int64(len(junk)) {
		if _, err := f.Write(junk[:min(int64(len(junk)), size-off)]); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// loopDev attaches file as a loop device (with partition scanning) for
// the length of the test.
func loopDev(t *testing.T, file string) string {
	t.Helper()
	testenv.Loop(t)
	out, err := exec.Command("losetup", "--show", "-f", "-P", file).CombinedOutput()
	testenv.Require(t, err == nil, "losetup failed (no free loop device?): "+strings.TrimSpace(string(out)))
	dev := strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v %s", dev, err, out)
		}
	})
	return dev
}

// testImage builds a composed-like image: GPT with a BIOS boot partition
// and a FAT32 ESP from 2 MiB to the end, holding payload as /PAYLOAD.BIN.
// The ESP is copied in with dd conv=sparse, so its zero blocks (free
// clusters and much of the FATs) are holes, as in a real sparse image.
func testImage(t *testing.T, dir string, size int64, payload []byte) (img string, esp span) {
	t.Helper()
	testenv.Tools(t, "sgdisk", "mkfs.fat", "mcopy", "dd")
	img = filepath.Join(dir, "kit.img")
	if err := os.Truncate(mustCreate(t, img), size); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "sgdisk", "-n", "1:2048:+1M", "-t", "1:ef02", "-n", "2:4096:0", "-t", "2:ef00", img)
	endLBA := size/512 - 34 // sgdisk's default last usable LBA
	esp = span{4096 * 512, (endLBA + 1) * 512}
	espFile := filepath.Join(dir, "esp.fat")
	if err := os.Truncate(mustCreate(t, espFile), esp.len()); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "mkfs.fat", "-F", "32", "-s", "1", "-n", "TESTKIT", espFile)
	data := filepath.Join(dir, "PAYLOAD.BIN")
	if err := os.WriteFile(data, payload, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Run(t, "mcopy", "-i", espFile, data, "::/PAYLOAD.BIN")
	testenv.Run(t, "dd", "if="+espFile, "of="+img, "bs=4096", "seek="+itoa(esp.Off/4096), "conv=notrunc,sparse", "status=none")
	testenv.Run(t, "sgdisk", "-v", img)
	return img, esp
}

func mustCreate(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func randomBytes(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

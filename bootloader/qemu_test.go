package bootloader

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/config/firmware"
)

// stickImage builds a GPT image the way compose lays it out (p1 BIOS boot 1 MiB at LBA 2048,
// p2 FAT32 ESP) from this package's outputs only: ESPFiles, Render, BIOSInstall. The
// filesystem tools stand in for compose's image builder.
func stickImage(t *testing.T, dir string, targets []firmware.Firmware, m Menu, entries []Entry, isos map[string]string) string {
	t.Helper()
	cfg, err := Render(m, entries)
	must(t, err)
	return stickImageCfg(t, dir, targets, m.SecureBoot, cfg, isos)
}

// stickImageCfg is stickImage with a grub.cfg of the caller's.
func stickImageCfg(t *testing.T, dir string, targets []firmware.Firmware, secureBoot bool, cfg []byte, isos map[string]string) string {
	t.Helper()
	needTool(t, "mkfs.fat", "mmd", "mcopy", "sgdisk", "fsck.fat")
	files, err := ESPFiles(ESPOptions{Targets: targets, SecureBoot: secureBoot, StickID: "qemutest01"})
	must(t, err)
	files = append(files, File{ConfigPath, cfg})
	must(t, os.WriteFile(filepath.Join(dir, "grub.cfg"), cfg, 0o644))
	var isoBytes int64
	for _, src := range isos {
		st, err := os.Stat(src)
		must(t, err)
		isoBytes += st.Size()
	}
	espMiB := 48 + isoBytes>>20
	esp := filepath.Join(dir, "esp.img")
	must(t, os.WriteFile(esp, nil, 0o644))
	must(t, os.Truncate(esp, espMiB<<20))
	run(t, "mkfs.fat", "-F", "32", "-n", "COMPOSE", "-i", "1234ABCD", esp)
	made := map[string]bool{"/": true}
	mkdirs := func(p string) {
		var chain []string
		for d := path.Dir(p); !made[d]; d = path.Dir(d) {
			chain = append([]string{d}, chain...)
			made[d] = true
		}
		for _, d := range chain {
			run(t, "mmd", "-i", esp, "::"+d)
		}
	}
	for i, f := range files {
		tmp := filepath.Join(dir, fmt.Sprintf("f%d", i))
		must(t, os.WriteFile(tmp, f.Data, 0o644))
		mkdirs(f.Path)
		run(t, "mcopy", "-i", esp, tmp, "::"+f.Path)
	}
	for dst, src := range isos {
		mkdirs(dst)
		run(t, "mcopy", "-i", esp, src, "::"+dst)
	}
	run(t, "fsck.fat", "-n", esp)

	img := filepath.Join(dir, "stick.img")
	must(t, os.WriteFile(img, nil, 0o644))
	must(t, os.Truncate(img, (espMiB+3)<<20))
	run(t, "sgdisk", "-n", "1:2048:4095", "-t", "1:EF02", "-n", fmt.Sprintf("2:4096:+%dM", espMiB), "-t", "2:EF00", img)
	bios, err := BIOSInstall(2048, 2048)
	must(t, err)
	f, err := os.OpenFile(img, os.O_RDWR, 0)
	must(t, err)
	defer f.Close()
	espData, err := os.ReadFile(esp)
	must(t, err)
	for _, w := range []struct {
		off  int64
		data []byte
	}{{0, bios.BootCode}, {2048 * 512, bios.Core}, {4096 * 512, espData}} {
		_, err := f.WriteAt(w.data, w.off)
		must(t, err)
	}
	must(t, f.Sync())
	run(t, "sgdisk", "-v", img)
	return img
}

var bootFailure = regexp.MustCompile(`error: |Access Denied|bad shim signature|Kernel panic|No bootable|grub rescue>`)

// boot is one QEMU run: the firmware, what must appear on the serial console, and a key
// to type when a menu waits.
type boot struct {
	firmware     boottest.Variant
	want         []string // all must appear
	pressEnterOn string   // regexp: send Enter when it shows (nested menus wait for a key)
	key          string   // sent instead of Enter when pressEnterOn shows
	failOn       string   // regexp of failure lines, instead of bootFailure
}

// bootQEMU boots img headless through compose/boottest, the module's one QEMU launcher
// (firmware files, the accelerator, KVM only where it passed its probe, the process
// group), and returns the console log once every wanted line has shown. It fails at the
// first boot error line, when QEMU stops, or at the deadline.
func bootQEMU(t *testing.T, dir, img string, b boot) string {
	t.Helper()
	m := boottest.VM{Image: img, Firmware: b.firmware, Memory: 512}
	if _, err := boottest.Locate(b.firmware); err != nil {
		missing(t, "%v", err)
	}
	e := boottest.Expect{Want: b.want, Fail: bootFailure}
	if b.failOn != "" {
		e.Fail = regexp.MustCompile(b.failOn)
	}
	if b.pressEnterOn != "" {
		// Keys typed while GRUB is still drawing a menu can be lost: again every few
		// seconds while the menu is the last thing on the console.
		key := "\r"
		if b.key != "" {
			key = b.key
		}
		e.Keys = []boottest.KeyRule{{On: regexp.MustCompile(b.pressEnterOn), Send: key, Every: 3 * time.Second}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	start := time.Now()
	g, err := boottest.Start(ctx, m, boottest.GuestOptions{SerialLog: filepath.Join(dir, string(b.firmware)+".log")})
	must(t, err)
	defer g.Close()
	if g.Fallback != "" {
		t.Logf("%s: %s; running under %s", b.firmware, g.Fallback, g.Accel)
	}
	out, err := g.Expect(ctx, e)
	if err != nil {
		t.Fatalf("%s (%s): %v after %s\n%s", b.firmware, g.Accel, err, time.Since(start).Round(time.Second), tail(plainText(out)))
	}
	t.Logf("%s: reached %q in %s under %s", b.firmware, b.want, time.Since(start).Round(time.Second), g.Accel)
	return out
}

// plainText drops terminal escapes, so a failure shows the text GRUB printed.
func plainText(s string) string {
	return regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]").ReplaceAllString(s, " ")
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

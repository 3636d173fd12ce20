package bootloader

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
)

// stickImage builds a GPT image the way compose lays it out (p1 BIOS boot 1 MiB at LBA 2048,
// p2 FAT32 ESP) from this package's outputs only: ESPFiles, Render, BIOSInstall. The
// filesystem tools stand in for compose's image builder.
func stickImage(t *testing.T, dir string, targets []Target, m Menu, entries []Entry, isos map[string]string) string {
	t.Helper()
	cfg, err := Render(m, entries)
	must(t, err)
	return stickImageCfg(t, dir, targets, m.SecureBoot, cfg, isos)
}

// stickImageCfg is stickImage with a grub.cfg of the caller's.
func stickImageCfg(t *testing.T, dir string, targets []Target, secureBoot bool, cfg []byte, isos map[string]string) string {
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

// boot is one QEMU run: the firmware mode, what must appear on the serial console, and
// optionally a failure line that is the expected outcome (e.g. Secure Boot refusing).
type boot struct {
	mode         string   // bios, uefi, uefi-sb, ia32
	want         []string // all must appear
	wantFailure  string   // if set, this boot-failure text is the expected result
	pressEnterOn string   // regexp: send Enter once when it shows (nested menus wait for a key)
	key          string   // sent instead of Enter when pressEnterOn shows
	failOn       string   // regexp of failure lines, instead of bootFailure
}

// bootQEMU boots img headless with the serial console on stdio, and returns the console log
// once every wanted line has shown (or the guest powered off with them). It fails at the
// first unexpected boot error line or at the deadline.
func bootQEMU(t *testing.T, dir, img string, b boot) string {
	t.Helper()
	qemu := "qemu-system-x86_64"
	if strings.HasPrefix(b.mode, "aa64") {
		qemu = "qemu-system-aarch64"
	}
	needTool(t, qemu)
	log := filepath.Join(dir, b.mode+".log")
	args := []string{"-m", "512", "-display", "none", "-monitor", "none", "-no-reboot", "-net", "none",
		"-serial", "stdio", "-drive", "file=" + img + ",format=raw,if=none,id=d0,snapshot=on"}
	if _, err := os.Stat("/dev/kvm"); err == nil && qemu == "qemu-system-x86_64" {
		args = append(args, "-accel", "kvm")
	} else {
		args = append(args, "-accel", "tcg")
	}
	vars := filepath.Join(dir, b.mode+"-vars.fd")
	// Firmware files are where compose/boottest finds them: one list of
	// QEMU firmware paths for the module.
	pflash := func(fw boottest.Firmware) {
		files, err := boottest.Locate(fw)
		if err != nil {
			missing(t, "%v", err)
		}
		v, err := os.ReadFile(files.Vars)
		must(t, err)
		must(t, os.WriteFile(vars, v, 0o644))
		args = append(args, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+files.Code,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars, "-device", "virtio-blk-pci,drive=d0,bootindex=0")
	}
	secure := []string{"-machine", "q35,smm=on", "-global", "driver=cfi.pflash01,property=secure,value=on"}
	switch b.mode {
	case "bios":
		args = append(args, "-machine", "pc", "-device", "ide-hd,drive=d0,bootindex=0")
	case "uefi":
		args = append(args, "-machine", "q35")
		pflash(boottest.UEFI)
	case "uefi-sb":
		args = append(args, secure...)
		pflash(boottest.UEFISB)
	case "ia32":
		args = append(args, secure...)
		pflash(boottest.UEFIIA32)
	case "aa64":
		args = append(args, "-machine", "virt", "-cpu", "cortex-a57")
		pflash(boottest.UEFIARM64)
	case "aa64-sb":
		args = append(args, "-machine", "virt", "-cpu", "cortex-a57")
		pflash(boottest.UEFIARM64SB)
	default:
		t.Fatalf("unknown boot mode %s", b.mode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	logf, err := os.Create(log)
	must(t, err)
	defer logf.Close()
	cmd.Stdout = logf
	keys, err := cmd.StdinPipe()
	must(t, err)
	start := time.Now()
	must(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var enterRe *regexp.Regexp
	var lastEnter time.Time
	if b.pressEnterOn != "" {
		enterRe = regexp.MustCompile(b.pressEnterOn)
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for exited := false; ; {
		var qerr error
		select {
		case qerr = <-done:
			exited = true
		case <-tick.C:
		}
		raw, _ := os.ReadFile(log)
		out := strings.ReplaceAll(string(raw), "\r", "")
		seen := b.wantFailure == "" || strings.Contains(out, b.wantFailure)
		for _, w := range b.want {
			seen = seen && strings.Contains(out, w)
		}
		if seen {
			if !exited {
				cmd.Process.Kill()
				<-done
			}
			t.Logf("%s: reached %q %s in %s", b.mode, b.want, b.wantFailure, time.Since(start).Round(time.Second))
			return out
		}
		// GRUB prefixes the expected failure with "error: ", which may arrive first.
		failRe := bootFailure
		if b.failOn != "" {
			failRe = regexp.MustCompile(b.failOn)
		}
		if m := failRe.FindString(out); m != "" && m != b.wantFailure && (b.wantFailure == "" || m != "error: ") {
			if !exited {
				cmd.Process.Kill()
				<-done
			}
			t.Fatalf("%s: boot failed with %q after %s\n%s", b.mode, m, time.Since(start), tail(plainText(out)))
		}
		if exited {
			t.Fatalf("%s: %q not on the serial console (qemu: %v, %s)\n%s", b.mode, b.want, qerr, time.Since(start), tail(out))
		}
		// Keys sent while GRUB is still drawing a menu can be lost: repeat Enter every few
		// seconds while the menu is the last thing on the console.
		if enterRe != nil && time.Since(lastEnter) > 3*time.Second {
			if loc := enterRe.FindAllStringIndex(out, -1); loc != nil && len(out)-loc[len(loc)-1][1] < 2048 {
				key := "\r"
				if b.key != "" {
					key = b.key
				}
				keys.Write([]byte(key))
				lastEnter = time.Now()
			}
		}
	}
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

// TestQEMUBoot boots a stick made from this package's ESP files, BIOS install and menu
// under SeaBIOS, OVMF and OVMF with Secure Boot enforcing, and checks that GRUB reached the
// menu and the entry started the ISO's kernel with its family's arguments. Opt-in
// (COMPOSE_QEMU=1): each boot takes 10-60 s under TCG.
func TestQEMUBoot(t *testing.T) {
	if os.Getenv("COMPOSE_QEMU") != "1" {
		t.Skip("set COMPOSE_QEMU=1 to boot images in QEMU")
	}
	dir := t.TempDir()
	kernel := testKernel(t)
	live := tinyISO(t, dir, "tinylive", false, kernel, "/bin/busybox")
	cfgISO := tinyISO(t, dir, "tinycfg", true, kernel, "/bin/busybox")
	memtest := "/usr/lib/memtest86+/memtest86+x64.iso"
	needFile(t, memtest, "memtest86+")
	isos := map[string]string{"/isos/tinylive.iso": live, "/isos/tinycfg.iso": cfgISO, "/isos/memtest.iso": memtest}
	ids := []string{"tinylive", "tinycfg", "memtest"}
	// arm64 needs an arm64 kernel and busybox (from linux-image-*-cloud-arm64:arm64 and
	// busybox-static:arm64, unpacked with dpkg -x); without them the arm64 cases skip.
	armKernel, armBusybox := os.Getenv("COMPOSE_TEST_KERNEL_ARM64"), os.Getenv("COMPOSE_TEST_BUSYBOX_ARM64")
	if armKernel != "" && armBusybox != "" {
		isos["/isos/tinyarm.iso"] = tinyISO(t, dir, "tinyarm", false, armKernel, armBusybox)
		ids = append(ids, "tinyarm")
	}
	var entries []Entry
	for _, id := range ids {
		fsys, label := openISO(t, isos["/isos/"+id+".iso"])
		d, err := Inspect(fsys, label)
		must(t, err)
		e := Entry{ID: id, Title: "Tiny " + id + " ('quoted' title)", ISOPath: "/isos/" + id + ".iso", Boot: d}
		if d.Family != LoopbackCfg {
			e.Args = "panic=-1"
		}
		entries = append(entries, e)
	}
	if entries[0].Boot.Family != Live || entries[1].Boot.Family != LoopbackCfg || entries[2].Boot.Family != EFI {
		t.Fatalf("families %s %s %s", entries[0].Boot.Family, entries[1].Boot.Family, entries[2].Boot.Family)
	}
	targets := []Target{BIOS, UEFIX64, UEFIIA32, UEFIARM64}
	armOK := []string{"COMPOSE-MENU-OK", "ISOBOOT-OK name=tinyarm", "findiso=/isos/tinyarm.iso", "console=ttyAMA0 panic=-1"}
	liveOK := []string{"COMPOSE-MENU-OK", "ISOBOOT-OK name=tinylive", "findiso=/isos/tinylive.iso", "console=ttyS0,115200 panic=-1"}
	for _, tc := range []struct {
		def string
		b   boot
	}{
		{"tinylive", boot{mode: "bios", want: liveOK}},
		{"tinylive", boot{mode: "uefi-sb", want: append(liveOK, "secureboot: Secure boot enabled")}},
		{"tinylive", boot{mode: "ia32", want: liveOK}},
		{"tinycfg", boot{mode: "uefi", pressEnterOn: `tinycfg \(loopback\.cfg\)`,
			want: []string{"COMPOSE-MENU-OK", "ISOBOOT-OK name=tinycfg", "from=loopbackcfg findiso=/isos/tinycfg.iso"}}},
		{"memtest", boot{mode: "uefi", want: []string{"COMPOSE-MENU-OK", "Memtest86+"}}},
		// CheckSecureBoot predicts this: memtest86+ is unsigned, Debian's shim refuses it.
		{"memtest", boot{mode: "uefi-sb", want: []string{"COMPOSE-MENU-OK"}, wantFailure: "bad shim signature"}},
		{"tinyarm", boot{mode: "aa64", want: armOK}},
		{"tinyarm", boot{mode: "aa64-sb", want: append(armOK, "secureboot: Secure boot enabled")}},
	} {
		t.Run(tc.b.mode+"-"+tc.def, func(t *testing.T) {
			if _, ok := isos["/isos/"+tc.def+".iso"]; !ok {
				t.Skip("set COMPOSE_TEST_KERNEL_ARM64 and COMPOSE_TEST_BUSYBOX_ARM64 to boot arm64")
			}
			sub := filepath.Join(dir, tc.b.mode+"-"+tc.def)
			must(t, os.MkdirAll(sub, 0o755))
			m := Menu{Title: "COMPOSE-MENU-OK", Timeout: time.Second, Default: tc.def, Console: ConsoleSerial, SecureBoot: true}
			img := stickImage(t, sub, targets, m, entries, isos)
			bootQEMU(t, sub, img, tc.b)
		})
	}
}

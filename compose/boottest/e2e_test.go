package boottest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/boottest/fixture"
)

// requireTools skips when a tool is missing, or fails when CI=true (CI
// installs them all).
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			msg := fmt.Sprintf("%s not installed (Debian: qemu-system-x86 qemu-system-arm ovmf ovmf-ia32 qemu-efi-aarch64 seabios xorriso mtools dosfstools gdisk grub-pc-bin grub-efi-ia32-bin squashfs-tools)", tool)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
}

// menuEntry is one entry of the test menu: its GRUB body and what proves it booted.
type menuEntry struct {
	name, title, body string
	marker            string // regexp; "" = kernel started
}

// testMenu is the menu the image carries, written in the style of the
// generated grub.cfg (serial console, loopback entries by family).
func testMenu() []menuEntry {
	tiny := func(iso, arch, console string) string {
		return fmt.Sprintf(`  set iso=/isos/%s
  loopback loop $iso
  linux (loop)/live/vmlinuz console=%s panic=-1 iso_name=%s findiso=$iso
  initrd (loop)/live/initrd.img`, iso, console, arch)
	}
	return []menuEntry{
		{"tiny", "Tiny (amd64)", tiny("tiny.iso", "amd64", "ttyS0,115200"), `ISOBOOT-OK name=tiny arch=amd64`},
		{"tinycfg", "Tiny via its loopback.cfg", `  set iso_path=/isos/tiny.iso
  export iso_path
  loopback loop $iso_path
  set root=(loop)
  configfile /boot/grub/loopback.cfg`, `ISOBOOT-CMDLINE .*via=loopback.cfg findiso=/isos/tiny.iso`},
		{"memtest", "memtest86+", `  loopback loop /isos/memtest86+x64.iso
  chainloader (loop)/EFI/BOOT/bootx64.efi console=ttyS0,115200`, `Memtest86\+ *v?[0-9]`},
		{"ipxe", "iPXE", `  loopback loop /isos/ipxe.iso
  loopback efiimg (loop)/efi.img
  chainloader (efiimg)/EFI/BOOT/BOOTX64.EFI`, `iPXE initialising`},
		{"tinyarm", "Tiny (arm64)", tiny("tiny-arm64.iso", "arm64", "ttyAMA0"), `ISOBOOT-OK name=tiny arch=arm64`},
		{"liveboot", "Debian live-boot (findiso)", `  set iso=/isos/liveboot.iso
  loopback loop $iso
  linux (loop)/live/vmlinuz boot=live findiso=$iso console=ttyS0,115200 panic=-1
  initrd (loop)/live/initrd.img`, fixture.LiveMarker + ` medium=/dev/loop[0-9]+ findiso=/dev/[sv]da2`},
		{"dracut", "dracut dmsquash-live (iso-scan)", `  set iso=/isos/dracut.iso
  loopback loop $iso
  probe --set isolabel --label (loop)
  linux (loop)/images/pxeboot/vmlinuz root=live:CDLABEL=$isolabel rd.live.image iso-scan/filename=$iso rd.live.overlay.overlayfs=1 console=ttyS0,115200 panic=-1
  initrd (loop)/images/pxeboot/initrd.img`, fixture.DracutMarker + ` live=/dev/loop[0-9]+ isoscan=/dev/[sv]da2`},
	}
}

func grubCfg(menu []menuEntry) string {
	var b strings.Builder
	b.WriteString(`if [ "$grub_cpu" != arm64 ]; then
  serial --unit=0 --speed=115200
  terminal_input serial console
  terminal_output serial console
fi
set timeout=10
set default=0
`)
	for _, m := range menu {
		fmt.Fprintf(&b, "menuentry '%s' --id %s {\n%s\n}\n", m.title, m.name, m.body)
	}
	return b.String()
}

// matrix is what the suite boots: firmware -> entries, and the failures
// expected (unsigned payloads under Secure Boot).
var matrix = []struct {
	fw      boottest.Firmware
	entries []string
	expect  map[string]boottest.Reason
}{
	{boottest.UEFI, []string{"tiny", "tinycfg", "memtest", "ipxe", "liveboot", "dracut"}, nil},
	{boottest.UEFISB, []string{"tiny", "tinycfg", "memtest", "ipxe", "liveboot", "dracut"}, map[string]boottest.Reason{
		"memtest": boottest.ReasonPayloadNotSigned, "ipxe": boottest.ReasonPayloadNotSigned}},
	{boottest.BIOS, []string{"tiny", "tinycfg", "liveboot", "dracut"}, nil},
	{boottest.UEFIARM64, []string{"tinyarm"}, nil},
	{boottest.UEFIARM64SB, []string{"tinyarm"}, nil},
	{boottest.UEFIIA32, []string{"tiny"}, nil},
}

// buildImage makes the kit image. It is the one step to swap for
// `compose apply --image` once that exists.
var buildImage = func(t *testing.T, cache *fixture.Cache, isos map[string]string, menu []menuEntry, out string) {
	t.Helper()
	if err := cache.BuildImage(fixture.ImageSpec{Out: out, GrubCfg: grubCfg(menu), ISOs: isos}); err != nil {
		t.Fatal(err)
	}
}

func TestBootMatrix(t *testing.T) {
	if testing.Short() {
		t.Skip("boot matrix: minutes under TCG; skipped with -short")
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < 40*time.Minute {
		msg := fmt.Sprintf("boot matrix needs up to 40 min under TCG but go test's deadline is in %s: run with -timeout 90m", time.Until(d).Round(time.Second))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	requireTools(t, "qemu-system-x86_64", "qemu-system-aarch64", "xorriso", "mkfs.fat", "mcopy", "sgdisk", "grub-mkimage", "apt-get", "dpkg")
	dir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := &fixture.Cache{Dir: dir, Log: func(s string) { t.Log(s) }}
	isos := buildFixtures(t, cache)
	menu := testMenu()
	img := os.Getenv("COMPOSE_BOOT_IMAGE") // keep the image for a look afterwards
	if img == "" {
		img = filepath.Join(t.TempDir(), "kit.img")
	}
	start := time.Now()
	buildImage(t, cache, isos, menu, img)
	t.Logf("image built in %s", time.Since(start).Round(time.Millisecond))

	cases := matrixCases(t, menu)
	logs := os.Getenv("COMPOSE_BOOT_LOGS")
	if logs == "" {
		logs = t.TempDir()
	}
	r := &boottest.Runner{Image: img, LogDir: logs, OnEvent: func(e boottest.Event) {
		switch e.Kind {
		case boottest.EventMilestone:
			t.Logf("  %s/%s: %s at %s", e.Case.Firmware, e.Case.Entry.Name, e.Milestone, e.At.Round(100*time.Millisecond))
		case boottest.EventKeys:
			t.Logf("  %s/%s: keys %q at %s", e.Case.Firmware, e.Case.Entry.Name, e.Keys, e.At.Round(100*time.Millisecond))
		}
	}}
	results, err := r.RunAll(context.Background(), cases)
	if err != nil {
		t.Fatal(err)
	}
	var table strings.Builder
	boottest.WriteTable(&table, results)
	t.Log("\n" + table.String())
	for _, res := range results {
		checkSecureBootState(t, res)
		if !res.Pass {
			t.Errorf("%s on %s: %s (%s), reached %s; log %s:\n%s", res.Entry, res.Firmware, res.Reason,
				res.Detail, res.Milestone, res.Log, logTail(res.Log, 25))
		}
	}
}

// checkSecureBootState makes sure a Secure Boot pass was really under
// enforcement (and a plain UEFI pass was not): Linux says which on serial.
func checkSecureBootState(t *testing.T, res boottest.Result) {
	t.Helper()
	if !res.Pass || res.Expected || res.Milestone < boottest.MilestoneKernel || !res.Firmware.EFI() {
		return
	}
	b, err := os.ReadFile(res.Log)
	if err != nil {
		t.Error(err)
		return
	}
	want := "secureboot: Secure boot disabled"
	if res.Firmware.SecureBoot() {
		want = "secureboot: Secure boot enabled"
	}
	if strings.Contains(string(b), "Linux version") && !strings.Contains(string(b), want) {
		t.Errorf("%s on %s passed but the kernel did not log %q", res.Entry, res.Firmware, want)
	}
}

// buildFixtures builds (or reuses) every ISO the menu boots, timing each.
func buildFixtures(t *testing.T, cache *fixture.Cache) map[string]string {
	t.Helper()
	builds := []struct {
		name  string
		build func() (string, error)
	}{
		{"tiny.iso", func() (string, error) { return cache.MinimalISO(fixture.AMD64, "tiny") }},
		{"tiny-arm64.iso", func() (string, error) { return cache.MinimalISO(fixture.ARM64, "tiny") }},
		{"memtest86+x64.iso", func() (string, error) {
			return cache.DebianISO("memtest86+", "usr/lib/memtest86+/memtest86+x64.iso")
		}},
		{"ipxe.iso", func() (string, error) { return cache.DebianISO("ipxe", "usr/lib/ipxe/ipxe.iso") }},
		{"liveboot.iso", cache.LiveBootISO},
		{"dracut.iso", cache.DracutLiveISO},
	}
	isos := map[string]string{}
	for _, b := range builds {
		start := time.Now()
		p, err := b.build()
		if err != nil {
			t.Fatalf("fixture %s: %v", b.name, err)
		}
		t.Logf("fixture %s: %s", b.name, time.Since(start).Round(time.Millisecond))
		isos[b.name] = p
	}
	return isos
}

// matrixCases turns the matrix into cases; COMPOSE_BOOT_CASES (a regexp on
// "firmware/entry") narrows it while developing.
func matrixCases(t *testing.T, menu []menuEntry) []boottest.Case {
	var filter *regexp.Regexp
	if f := os.Getenv("COMPOSE_BOOT_CASES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	index := map[string]int{}
	for i, m := range menu {
		index[m.name] = i
	}
	var cases []boottest.Case
	for _, row := range matrix {
		for _, name := range row.entries {
			if filter != nil && !filter.MatchString(string(row.fw)+"/"+name) {
				continue
			}
			m := menu[index[name]]
			c := boottest.Case{Entry: boottest.Entry{Name: name, Index: index[name], Title: m.title},
				Firmware: row.fw, ExpectFail: row.expect[name], Timeout: 4 * time.Minute}
			if m.marker != "" {
				c.Marker = regexp.MustCompile(m.marker)
			}
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		t.Fatalf("COMPOSE_BOOT_CASES=%q selects no case", os.Getenv("COMPOSE_BOOT_CASES"))
	}
	return cases
}

func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	text := regexp.MustCompile("\x1b\\[[0-9;?]*[A-Za-z]|\r").ReplaceAllString(string(b), "")
	lines := strings.Split(text, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

package bootloader

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/config/firmware"
)

// The persistence arguments through the real, embedded GRUB: each entry of the
// persistent kit runs its body as rendered (loopback, probe), with its linux line turned
// into a loop that echoes every word GRUB parsed from it. The words on the console are
// the kernel's command line as the initramfs reads it: casper's and archiso's proof at
// the GRUB and argument level (their initramfs is not packaged in Debian); live-boot's
// and dracut's are booted with their real initramfs elsewhere.
func TestGRUBPassesPersistenceArgs(t *testing.T) {
	qemuTest(t)
	dir := t.TempDir()
	fixtures := map[string]string{"debian": "debian-live-12", "fedora-39-workstation-live": "fedora-39-workstation",
		"ubuntu": "ubuntu-22.04-desktop", "arch": "archlinux-2024.01.01"}
	entries := persistentKit(t)
	isos := map[string]string{}
	for _, e := range entries {
		isos[e.ISOPath] = fixtureISO(t, dir, fixtureByName(t, fixtures[e.ID]))
	}
	m := Menu{Title: "persistence", Console: ConsoleSerial, Timeout: time.Second}
	img := stickImageCfg(t, dir, []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}, false, argProbeCfg(t, m, entries), isos)
	out := plainText(bootQEMU(t, dir, img, boot{firmware: boottest.BIOS, want: []string{"PROBE-DONE"},
		failOn: `grub rescue>|Kernel panic|error: `}))
	fedora := "p-fedora_" + hash6("fedora-39-workstation-live")
	want := map[string][]string{
		"debian": {"boot=live", "findiso=/isos/debian.iso", "persistence", "persistence-label=p-debian",
			"persistence-storage=filesystem", "console=ttyS0,115200", "quiet"},
		"fedora-39-workstation-live": {"root=live:CDLABEL=Fedora-WS-Live-39-1-5", "rd.live.image",
			"iso-scan/filename=/isos/fedora-39-workstation-live.iso", "rd.live.overlay.overlayfs=1",
			"rd.live.overlay=LABEL=" + fedora + ":/overlayfs", "console=ttyS0,115200", "quiet"},
		"ubuntu": {"boot=casper", "iso-scan/filename=/isos/ubuntu.iso", "persistent", "console=ttyS0,115200", "quiet"},
		"arch": {"img_dev=/dev/disk/by-uuid/1234-ABCD", "img_loop=/isos/arch.iso", "earlymodules=loop",
			"archisobasedir=arch", "archisolabel=ARCH_202401", "cow_label=p-arch", "cow_directory=persistent",
			"console=ttyS0,115200", "quiet"},
	}
	for _, e := range entries {
		got := probedArgs(out, e.ID)
		if !slices.Equal(got, want[e.ID]) {
			t.Errorf("%s (%s): GRUB passes\n%q\nwant\n%q", e.ID, e.Boot.Family, got, want[e.ID])
		}
	}
}

// argProbeCfg is the entries' bodies at top level, each linux line replaced by a loop
// over its arguments (the kernel itself is left out), initrd lines dropped.
func argProbeCfg(t *testing.T, m Menu, entries []Entry) []byte {
	t.Helper()
	var w cfgWriter
	w.header(m)
	for i, e := range entries {
		w.devices(i, e)
		var body cfgWriter
		body.dev, body.espDev = w.dev, w.espDev
		body.body(0, m, e)
		w.line(0, "echo", quote("PROBE-BEGIN "+e.ID))
		for _, l := range strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n") {
			switch {
			case strings.HasPrefix(l, "initrd "):
			case strings.HasPrefix(l, "linux "):
				words := strings.SplitN(l, " ", 3) // linux, the kernel, the arguments
				if len(words) != 3 {
					t.Fatalf("%s: linux line without arguments: %s", e.ID, l)
				}
				w.line(0, `for w in `+words[2]+`; do echo "ARG ${w}"; done`)
			default:
				w.line(0, l)
			}
		}
		w.line(0, "echo", quote("PROBE-END "+e.ID))
	}
	w.line(0, "echo PROBE-DONE")
	return w.Bytes()
}

var argLine = regexp.MustCompile(`(?m)^\s*ARG (\S+)\s*$`)

func probedArgs(out, id string) []string {
	begin, end := strings.Index(out, "PROBE-BEGIN "+id), strings.Index(out, "PROBE-END "+id)
	if begin < 0 || end < begin {
		return nil
	}
	var args []string
	for _, m := range argLine.FindAllStringSubmatch(out[begin:end], -1) {
		args = append(args, m[1])
	}
	return args
}

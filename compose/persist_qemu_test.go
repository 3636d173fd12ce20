package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
)

// The persistence proof (issue 25): live systems whose initramfs is Debian's
// live-boot and Debian's dracut dmsquash-live, booted from a kit in QEMU on
// BIOS and UEFI, keep a file written in their root across a reboot. The
// fixtures' init writes a fresh token into its root when the root is an
// overlay on persistent storage and reads it back on the next boot
// (fixture.PersistWrote, fixture.PersistRead); the kit image is booted
// read-write (boottest.Runner.Writable), each boot ended by its marker.

// persistKit is the manifest: the two live families and a tiny ISO beside
// them (another ISO of the kit, the one an apply replaces).
const persistKit = `version: 1
label: PERSIST
firmware: [bios, uefi-x64]
menu:
  title: compose persistence kit
  timeout: 10s
  console: serial
isos:
  - {name: tiny, title: "Tiny", path: %s, sha256: %q, boot: live}
  - {name: liveboot, title: "Debian live-boot", path: %s, sha256: %q, args: %q}
  - {name: dracut, title: "dracut dmsquash-live", path: %s, sha256: %q, args: %q}
`

// Hand-built persistence: the labels, and the arguments the families'
// documentation gives for them (live-boot: a filesystem labelled
// "persistence" holding persistence.conf; dracut: rd.live.overlay=<devspec>:<path>,
// where <path> and an "ovlwork" directory beside it must exist).
const (
	handLiveLabel   = "persistence"
	handDracutLabel = "dracutpersist"
	handLiveArgs    = "persistence"
	handDracutArgs  = "rd.live.overlay=LABEL=" + handDracutLabel + ":/overlayfs"
)

// persistFirmware are the machines the proof boots, each on its own copy
// of the kit.
var persistFirmware = []boottest.Variant{boottest.BIOS, boottest.UEFI}

// persistSetup builds the fixtures the proof boots (once per cache).
func persistSetup(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		testenv.Skip(t, "persistence boot tests: minutes under TCG; skipped with -short")
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < 30*time.Minute {
		testenv.Skip(t, "persistence boot tests need up to 30 min under TCG but go test's deadline is in %s: run with -timeout 90m", time.Until(d).Round(time.Second))
	}
	testenv.Tools(t, "qemu-system-x86_64", "xorriso", "apt-get", "dpkg", "mkinitramfs", "sgdisk", "mkfs.ext4", "e2fsck")
	dir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := &fixture.Cache{Dir: dir, Log: func(s string) { t.Log(s) }}
	isos := map[string]string{}
	for name, b := range map[string]func() (string, error){
		"tiny":     func() (string, error) { return cache.MinimalISO(fixture.AMD64, "tiny") },
		"tiny2":    func() (string, error) { return cache.MinimalISO(fixture.AMD64, "tiny2") },
		"liveboot": cache.LiveBootISO,
		"dracut":   cache.DracutLiveISO,
	} {
		start := time.Now()
		p, err := b()
		if err != nil {
			t.Fatalf("fixture %s: %v", name, err)
		}
		t.Logf("fixture %s: %s", name, time.Since(start).Round(time.Millisecond))
		isos[name] = p
	}
	return isos
}

// persistManifest fills persistKit: tiny is the ISO at isos[tiny].
func persistManifest(t *testing.T, isos map[string]string, tiny, liveArgs, dracutArgs string) string {
	return fmt.Sprintf(persistKit, isos[tiny], sha256File(t, isos[tiny]),
		isos["liveboot"], sha256File(t, isos["liveboot"]), liveArgs,
		isos["dracut"], sha256File(t, isos["dracut"]), dracutArgs)
}

// TestBootPersistenceByHand proves the initramfs side with what a user can
// do without compose's persistence: a kit built by compose with the
// families' arguments in args:, and an ext4 partition per entry added by
// hand at the end of the disk (sgdisk, mkfs.ext4 -d). live-boot finds its
// partition on the stick it booted from (only the partition holding the
// ISO is skipped), dracut mounts the devspec it is given.
func TestBootPersistenceByHand(t *testing.T) {
	t.Parallel() // beside the other boot tests, two at a time: see e2eSetup
	isos := persistSetup(t)
	dir := t.TempDir()
	m, img, p := e2eCompose(t, dir, persistManifest(t, isos, "tiny", handLiveArgs, handDracutArgs))
	next := len(p.Partitions) + 1
	parts := map[string]int{"liveboot": next, "dracut": next + 1}
	addPersistPartition(t, img, parts["liveboot"], handLiveLabel, map[string]string{"persistence.conf": "/ union\n"}, nil)
	addPersistPartition(t, img, parts["dracut"], handDracutLabel, nil, []string{"overlayfs", "ovlwork"})
	for _, fw := range persistFirmware {
		fw := fw
		own := filepath.Join(t.TempDir(), "kit.img")
		copySparse(t, img, own)
		t.Run(string(fw), func(t *testing.T) {
			t.Parallel()
			pb := newPersistBooter(t, m, p, own, fw)
			tokens := map[string]string{}
			for _, entry := range []string{"liveboot", "dracut"} {
				tokens[entry] = pb.write(entry, parts[entry])
			}
			for _, entry := range []string{"liveboot", "dracut"} {
				pb.read(entry, parts[entry], tokens[entry])
			}
		})
	}
}

// addPersistPartition grows the image by a 64 MiB ext4 partition number n
// labelled label (GPT name and filesystem label), holding files and dirs.
func addPersistPartition(t *testing.T, img string, n int, label string, files map[string]string, dirs []string) {
	t.Helper()
	const size = 64 << 20
	fi, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, fi.Size()+size+1<<20); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range dirs {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, "sgdisk", "-e", img)
	runTool(t, "sgdisk", "-n", fmt.Sprintf("%d:0:+%dM", n, size>>20), "-c", fmt.Sprintf("%d:%s", n, label), "-t", fmt.Sprintf("%d:8300", n), img)
	out := runTool(t, "sgdisk", "-i", strconv.Itoa(n), img)
	mm := regexp.MustCompile(`First sector: (\d+)`).FindStringSubmatch(out)
	if mm == nil {
		t.Fatalf("sgdisk -i %d: no first sector in\n%s", n, out)
	}
	first, _ := strconv.ParseInt(mm[1], 10, 64)
	runTool(t, "mkfs.ext4", "-q", "-F", "-L", label, "-d", root, "-E", fmt.Sprintf("offset=%d", first*512), img, fmt.Sprintf("%dk", size>>10))
	runTool(t, "sgdisk", "-v", img)
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copySparse copies a kit image, holes kept.
func copySparse(t *testing.T, src, dst string) {
	t.Helper()
	runTool(t, "cp", "--sparse=always", src, dst)
}

// persistBooter boots one firmware's cases of a kit image read-write.
type persistBooter struct {
	t     *testing.T
	r     *boottest.Runner
	cases []boottest.Case
	fw    boottest.Variant
	boots int
}

func newPersistBooter(t *testing.T, m *config.Manifest, p *Plan, img string, fw boottest.Variant) *persistBooter {
	planned, err := p.BootCases(m, BootMachines(m))
	if err != nil {
		t.Fatal(err)
	}
	r := &boottest.Runner{Image: img, LogDir: logDir(t), Writable: true, Accel: boottest.AccelTCG}
	return &persistBooter{t: t, r: r, cases: runnerCases(t, planned), fw: fw}
}

// persistTimeout bounds one boot: a live boot takes about a minute under
// TCG on a loaded 2-core host; each boot ends at its marker, or when the
// guest powers off without it.
const persistTimeout = 4 * time.Minute

// boot runs entry once with marker as its proof (once more when the first
// run failed before its init ran: under TCG on a loaded host a serial key
// is sometimes lost, see e2eBoot) and returns the marker's submatches.
func (b *persistBooter) boot(entry string, marker *regexp.Regexp) []string {
	t := b.t
	t.Helper()
	var c *boottest.Case
	for i := range b.cases {
		if b.cases[i].Firmware == b.fw && b.cases[i].Entry.Name == entry {
			c = &b.cases[i]
		}
	}
	if c == nil {
		t.Fatalf("the kit's menu on %s has no entry %s", b.fw, entry)
	}
	bc := *c
	bc.Marker, bc.Timeout = marker, persistTimeout
	b.boots++
	b.r.LogDir = filepath.Join(logDir(t), fmt.Sprintf("boot%d", b.boots))
	res, err := b.r.Boot(context.Background(), bc)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pass && res.Milestone < boottest.MilestoneKernel {
		t.Logf("retrying %s on %s once after %s (%s); serial log:\n%s", entry, b.fw, res.Reason, res.Detail, logTail(res.Log, 15))
		b.r.LogDir += "-retry"
		if res, err = b.r.Boot(context.Background(), bc); err != nil {
			t.Fatal(err)
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("%s on %s: %s in %s (load average %s)", entry, b.fw, res.Status(), res.Duration.Round(100*time.Millisecond), strings.Join(strings.Fields(string(load))[:3], " "))
	if !res.Pass {
		t.Fatalf("%s on %s: want %q, got %s (%s) at %s; log %s:\n%s", entry, b.fw, marker, res.Reason, res.Detail, res.Milestone, res.Log, logTail(res.Log, 30))
	}
	return marker.FindStringSubmatch(res.Matched)
}

// persistDev is the device a fixture names the persistence partition n by:
// the kit is an IDE disk under SeaBIOS, virtio under OVMF.
func persistDev(fw boottest.Variant, n int) string {
	if fw == boottest.BIOS {
		return fmt.Sprintf("/dev/sda%d", n)
	}
	return fmt.Sprintf("/dev/vda%d", n)
}

// write boots entry on a fresh persistence partition n: its init must write
// a token there; it returns the token.
func (b *persistBooter) write(entry string, n int) string {
	re := regexp.MustCompile(fixture.PersistWrote + ` ([0-9a-f-]{36}) dev=` + regexp.QuoteMeta(persistDev(b.fw, n)) + ` fs=ext4`)
	return b.boot(entry, re)[1]
}

// read boots entry again: its init must find token on partition n.
func (b *persistBooter) read(entry string, n int, token string) {
	b.boot(entry, regexp.MustCompile(fixture.PersistRead+" "+regexp.QuoteMeta(token)+" dev="+regexp.QuoteMeta(persistDev(b.fw, n))+" fs=ext4"))
}

package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
	"github.com/usbkit/compose/config"
)

// The persistence proof (issue 25): live systems whose initramfs is Debian's
// live-boot and Debian's dracut dmsquash-live, booted from a kit in QEMU on
// BIOS and UEFI, keep a file written in their root across a reboot. The
// fixtures' init writes a fresh token into its root when the root is an
// overlay on persistent storage and reads it back on the next boot
// (fixture.PersistWrote, fixture.PersistRead); the kit image is booted
// read-write (boottest.Runner.Writable), each boot ended by its marker.

// proofKit is the manifest: the two live families with persistence and a
// third ISO beside them, the one an apply replaces (iPXE, then memtest86+).
const proofKit = `version: 1
label: PERSIST
firmware: [bios, uefi-x64]
menu:
  title: compose persistence kit
  timeout: 10s
  console: serial
isos:
  - {name: other, title: "Another ISO", path: %s, sha256: %q}
  - {name: liveboot, title: "Debian live-boot", path: %s, sha256: %q, persistence: 64MiB}
  - {name: dracut, title: "dracut dmsquash-live", path: %s, sha256: %q, persistence: 64MiB}
`

// persistFirmware are the machines the proof boots, each on a kit of its own.
var persistFirmware = []boottest.Variant{boottest.BIOS, boottest.UEFI}

// proofEntries are the kit's persistent entries, booted in this order.
var proofEntries = []string{"liveboot", "dracut"}

// proofManifest fills proofKit; other names the fixture entry other is.
func proofManifest(t *testing.T, isos map[string]string, other string) string {
	return fmt.Sprintf(proofKit, isos[other], sha256File(t, isos[other]),
		isos["liveboot"], sha256File(t, isos["liveboot"]), isos["dracut"], sha256File(t, isos["dracut"]))
}

// TestBootPersistence is issue 25's proof, on BIOS and UEFI, for live-boot
// and dracut, each on a kit of its own composed with persistence: (1) the
// entry boots with its persistence partition, (2) writes a token into its
// root, (3) boots again and reads it, (4) after an apply that replaces the
// kit's other ISO (the persistence partitions planned as kept, their bytes
// unchanged by it), boots again and still reads it.
func TestBootPersistence(t *testing.T) {
	t.Parallel() // beside the other boot tests, two at a time
	isos := e2eSetup(t)
	for _, fw := range persistFirmware {
		fw := fw
		entries := proofCases(fw)
		if len(entries) == 0 {
			continue
		}
		t.Run(string(fw), func(t *testing.T) {
			t.Parallel()
			proveOn(t, isos, fw, entries)
		})
	}
}

// proveOn runs the four steps for entries on fw, on a kit of its own.
func proveOn(t *testing.T, isos map[string]string, fw boottest.Variant, entries []string) {
	t.Helper()
	dir := t.TempDir()
	m, img, p := e2eCompose(t, dir, proofManifest(t, isos, "ipxe"))
	parts := map[string]PartitionPlan{}
	for _, e := range proofEntries {
		parts[e] = persistPart(t, p, e)
	}
	pb := newPersistBooter(t, m, p, img, fw)
	tokens := map[string]string{}
	for _, e := range entries {
		tokens[e] = pb.write(e, parts[e].Index)
	}
	for _, e := range entries {
		pb.read(e, parts[e].Index, tokens[e])
	}
	before := partitionSums(t, img, parts)
	m, _, p = e2eCompose(t, dir, proofManifest(t, isos, "memtest"))
	checkKeptPersistence(t, p, parts)
	if after := partitionSums(t, img, parts); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("apply changed persistence partitions: %v, before %v", after, before)
	}
	pb = newPersistBooter(t, m, p, img, fw)
	pb.boots = 2 * len(entries)
	for _, e := range entries {
		pb.read(e, parts[e].Index, tokens[e])
	}
}

// proofCases are the entries booted on fw: proofEntries, narrowed like the
// other boot tests' cases by COMPOSE_BOOT_CASES, a regexp on "firmware/entry".
func proofCases(fw boottest.Variant) []string {
	f := os.Getenv("COMPOSE_BOOT_CASES")
	var out []string
	for _, e := range proofEntries {
		if f == "" || regexp.MustCompile(f).MatchString(string(fw)+"/"+e) {
			out = append(out, e)
		}
	}
	return out
}

// checkKeptPersistence: the apply replaced the other ISO and planned every
// persistence partition as kept, where it was.
func checkKeptPersistence(t *testing.T, p *Plan, parts map[string]PartitionPlan) {
	t.Helper()
	if p.Diff == nil || len(p.Diff.Changes) == 0 || len(p.Diff.Recreate) > 0 {
		t.Fatalf("the apply replacing the other ISO: diff %+v", p.Diff)
	}
	if len(p.Persistence) != len(parts) {
		t.Fatalf("plan's persistence: %+v", p.Persistence)
	}
	for _, pp := range p.Persistence {
		if was := parts[pp.Entry]; pp.Action != PersistKeep || pp.Offset != was.Offset || pp.Size != was.Size {
			t.Errorf("apply's plan for %s's persistence: %+v; want kept at %d (%d bytes)", pp.Entry, pp, was.Offset, was.Size)
		}
	}
}

// partitionSums are the SHA-256 of each persistence partition's bytes.
func partitionSums(t *testing.T, img string, parts map[string]PartitionPlan) map[string]string {
	t.Helper()
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	for e, pt := range parts {
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(f, pt.Offset, pt.Size)); err != nil {
			t.Fatal(err)
		}
		out[e] = hex.EncodeToString(h.Sum(nil))
	}
	return out
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

package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config"
)

// The end-to-end suite: real distro initramfs in ISOs built from Debian
// packages, one kit composed by compose itself, booted in QEMU on every
// firmware. It skips without QEMU (and fails so under CI=true, which installs
// it); it needs -timeout 90m.

// e2eKit is the manifest: every family the fixtures cover, Secure Boot on.
const e2eKit = `version: 1
label: E2EKIT
firmware: [bios, uefi-x64, uefi-arm64, uefi-ia32]
secure_boot: true
storage: %s
menu:
  title: compose end-to-end kit
  timeout: 10s
  console: serial
isos:
  - {name: tiny, title: "Tiny (amd64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=amd64'}
  - {name: tinycfg, title: "Tiny via its loopback.cfg", path: %[2]s, sha256: %[3]q,
     expect: 'ISOBOOT-CMDLINE .*via=loopback.cfg findiso=/isos/tinycfg.iso'}
  - {name: memtest, title: memtest86+, path: %s, sha256: %q, expect: 'Memtest86\+ *v?[0-9]'}
  - {name: ipxe, title: iPXE, path: %s, sha256: %q, expect: 'iPXE initialising'}
  - {name: tinyarm, title: "Tiny (arm64)", path: %s, sha256: %q, boot: live,
     expect: 'ISOBOOT-OK name=tiny arch=arm64'}
  - {name: liveboot, title: "Debian live-boot (findiso)", path: %s, sha256: %q,
     expect: '%s medium=/dev/loop[0-9]+ findiso=/dev/[sv]da[23]'}
  - {name: dracut, title: "dracut dmsquash-live (iso-scan)", path: %s, sha256: %q,
     expect: '%s live=/dev/loop[0-9]+ isoscan=/dev/[sv]da[23]'}
`

// e2eMatrix is what is booted: firmware → entries. memtest86+ and iPXE are
// unsigned, so under Secure Boot they must fail exactly that way.
var e2eMatrix = map[boottest.Variant][]string{
	boottest.UEFI:        {"tiny", "tinycfg", "memtest", "ipxe", "liveboot", "dracut"},
	boottest.UEFISB:      {"tiny", "tinycfg", "memtest", "ipxe", "liveboot", "dracut"},
	boottest.BIOS:        {"tiny", "tinycfg", "liveboot", "dracut"},
	boottest.UEFIARM64:   {"tinyarm"},
	boottest.UEFIARM64SB: {"tinyarm"},
	boottest.UEFIIA32:    {"tiny"},
}

// e2eData is the second image: the ISOs on the ext4 data partition.
var e2eData = map[boottest.Variant][]string{
	boottest.UEFI: {"tiny", "liveboot"},
	boottest.BIOS: {"tiny", "liveboot"},
}

func TestBootMatrix(t *testing.T) {
	t.Parallel() // beside the other boot tests: see e2eSetup
	isos := e2eSetup(t)
	cases := e2eRun(t, isos, "auto", e2eMatrix)
	e2eCheckExpectations(t, cases)
}

func TestBootDataPartition(t *testing.T) {
	t.Parallel()
	isos := e2eSetup(t)
	e2eRun(t, isos, "data", e2eData)
}

// e2eSetup builds the fixtures (once per cache: the boot tests run in
// parallel, two at a time on two cores, each QEMU under TCG using one;
// fixture.Cache builds each fixture once for all of them) and returns the
// ISOs by name.
func e2eSetup(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		testenv.Skip(t, "boot tests: minutes under TCG; skipped with -short")
	}
	if d, ok := t.Deadline(); ok && time.Until(d) < 30*time.Minute {
		testenv.Skip(t, "boot tests need up to 30 min under TCG but go test's deadline is in %s: run with -timeout 90m", time.Until(d).Round(time.Second))
	}
	testenv.Tools(t, "qemu-system-x86_64", "qemu-system-aarch64", "xorriso", "apt-get", "dpkg", "mkinitramfs")
	dir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	cache := &fixture.Cache{Dir: dir, Log: func(s string) { t.Log(s) }}
	builds := []struct {
		name  string
		build func() (string, error)
	}{
		{"tiny", func() (string, error) { return cache.MinimalISO(fixture.AMD64, "tiny") }},
		{"tinyarm", func() (string, error) { return cache.MinimalISO(fixture.ARM64, "tiny") }},
		{"memtest", func() (string, error) { return cache.DebianISO("memtest86+", "usr/lib/memtest86+/memtest86+x64.iso") }},
		{"ipxe", func() (string, error) { return cache.DebianISO("ipxe", "usr/lib/ipxe/ipxe.iso") }},
		{"liveboot", cache.LiveBootISO},
		{"dracut", cache.DracutLiveISO},
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

// e2eRun composes the kit with compose's own pipeline (lock, plan, apply),
// then boots the cases of matrix from it, one at a time.
func e2eRun(t *testing.T, isos map[string]string, storage string, matrix map[boottest.Variant][]string) []boottest.Case {
	t.Helper()
	m, img, p := e2eCompose(t, t.TempDir(), e2eManifest(t, e2eKit, isos, storage))
	return e2eBoot(t, m, img, p, matrix)
}

// e2eManifest fills the kit template with isos.
func e2eManifest(t *testing.T, template string, isos map[string]string, storage string) string {
	arg := func(name string) []any { return []any{isos[name], sha256File(t, isos[name])} }
	args := []any{storage}
	for _, n := range []string{"tiny", "memtest", "ipxe", "tinyarm"} {
		args = append(args, arg(n)...)
	}
	args = append(args, append(arg("liveboot"), fixture.LiveMarker)...)
	args = append(args, append(arg("dracut"), fixture.DracutMarker)...)
	return fmt.Sprintf(template, args...)
}

// TestBootConverged boots a kit changed in place: built first with the
// arm64 ISO as "tiny", then converged to the real kit (tiny and tinycfg
// replaced, the menu swapped) before the boots.
func TestBootConverged(t *testing.T) {
	t.Parallel()
	isos := e2eSetup(t)
	first := map[string]string{}
	for k, v := range isos {
		first[k] = v
	}
	first["tiny"] = isos["tinyarm"]
	sized := strings.Replace(e2eKit, "storage: %s", "size: 1GiB\nstorage: %s", 1)
	dir := t.TempDir()
	e2eCompose(t, dir, e2eManifest(t, sized, first, "auto"))
	m, img, p := e2eCompose(t, dir, e2eManifest(t, sized, isos, "auto"))
	if p.Diff == nil || len(p.Diff.Changes) == 0 || len(p.Diff.Recreate) > 0 {
		t.Fatalf("converging the kit: diff %+v", p.Diff)
	}
	checkKit(t, img)
	e2eBoot(t, m, img, p, map[boottest.Variant][]string{
		boottest.UEFI: {"tiny", "tinycfg"},
		boottest.BIOS: {"tiny"},
	})
}

// e2eCompose writes the manifest and builds its kit; the fetch cache is
// removed once the image is written (it holds a copy of every ISO).
func e2eCompose(t *testing.T, dir, manifest string) (*config.Manifest, string, *Plan) {
	t.Helper()
	path := filepath.Join(dir, "multiboot.yaml")
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "kit.img")
	start := time.Now()
	p := build(t, m, filepath.Join(dir, "cache"), img)
	t.Logf("kit composed in %s: %s", time.Since(start).Round(time.Millisecond), humanPlan(p))
	os.RemoveAll(filepath.Join(dir, "cache"))
	return m, img, p
}

// e2eBoot boots the cases of matrix from the kit, one at a time, and
// fails the test for each that does not pass (after one retry).
func e2eBoot(t *testing.T, m *config.Manifest, img string, p *Plan, matrix map[boottest.Variant][]string) []boottest.Case {
	t.Helper()
	planned, err := p.BootCases(m, BootMachines(m))
	if err != nil {
		t.Fatal(err)
	}
	cases := selectCases(t, runnerCases(t, planned), matrix)
	r := &boottest.Runner{Image: img, LogDir: logDir(t), OnEvent: func(e boottest.Event) {
		if e.Kind == boottest.EventMilestone {
			t.Logf("  %s/%s: %s at %s", e.Case.Firmware, e.Case.Entry.Name, e.Milestone, e.At.Round(100*time.Millisecond))
		}
	}}
	results, err := r.RunAll(context.Background(), cases)
	if err != nil {
		t.Fatal(err)
	}
	// Under TCG on a loaded 2-core host a serial key is sometimes lost
	// (seen in about one full run in three, each time a different case):
	// a failed boot is run once more, and the retry is logged.
	for i, res := range results {
		if res.Pass {
			continue
		}
		t.Logf("retrying %s on %s once after %s (%s); serial log:\n%s", res.Entry, res.Firmware, res.Reason, res.Detail, logTail(res.Log, 15))
		again, err := r.Boot(context.Background(), cases[i])
		if err != nil {
			t.Fatal(err)
		}
		results[i] = again
	}
	var table strings.Builder
	boottest.WriteTable(&table, results)
	t.Log("\n" + table.String())
	for _, res := range results {
		checkSecureBootState(t, res)
		if !res.Pass {
			t.Errorf("%s on %s: %s (%s), reached %s; log %s:\n%s", res.Entry, res.Firmware, res.Reason,
				res.Detail, res.Milestone, res.Log, logTail(res.Log, 30))
		}
	}
	return cases
}

// runnerCases hands the plan's cases to the QEMU runner, as the CLI's
// test verb does.
func runnerCases(t *testing.T, planned []BootCase) []boottest.Case {
	var out []boottest.Case
	for _, c := range planned {
		bc, err := boottest.CaseOf(c.Entry, c.Index, c.Title, c.Machine.Firmware, c.Machine.SecureBoot)
		if err != nil {
			t.Fatal(err)
		}
		bc.Enrol = c.Enrol // as the CLI's test verb does
		if bc.Proof, err = boottest.ParseProof(c.Proof); err != nil {
			t.Fatal(err)
		}
		if bc.Marker = c.Marker; c.Unsigned {
			bc.ExpectFail = boottest.ReasonPayloadNotSigned
		}
		out = append(out, bc)
	}
	return out
}

// selectCases keeps the cases matrix names, and fails when the plan does
// not offer one of them (an entry the menu hides where it should show).
// COMPOSE_BOOT_CASES, a regexp on "firmware/entry", narrows it further.
func selectCases(t *testing.T, all []boottest.Case, matrix map[boottest.Variant][]string) []boottest.Case {
	t.Helper()
	var filter *regexp.Regexp
	if f := os.Getenv("COMPOSE_BOOT_CASES"); f != "" {
		filter = regexp.MustCompile(f)
	}
	var out []boottest.Case
	for _, fw := range boottest.AllVariants {
		for _, name := range matrix[fw] {
			found := false
			for _, c := range all {
				if c.Firmware == fw && c.Entry.Name == name {
					found = true
					c.Timeout = 4 * time.Minute
					if filter == nil || filter.MatchString(string(fw)+"/"+name) {
						out = append(out, c)
					}
				}
			}
			if !found {
				t.Errorf("the kit's menu on %s has no entry %s", fw, name)
			}
		}
	}
	return out
}

// e2eCheckExpectations: the plan predicted exactly the Secure Boot failures.
func e2eCheckExpectations(t *testing.T, cases []boottest.Case) {
	for _, c := range cases {
		unsigned := c.Entry.Name == "memtest" || c.Entry.Name == "ipxe"
		want := boottest.ReasonNone
		if unsigned && c.Firmware.SecureBoot() {
			want = boottest.ReasonPayloadNotSigned
		}
		if c.ExpectFail != want {
			t.Errorf("%s on %s: plan expects failure %q, want %q", c.Entry.Name, c.Firmware, c.ExpectFail, want)
		}
	}
}

// checkSecureBootState makes sure a Secure Boot pass was really under
// enforcement (and a plain UEFI pass was not): Linux says which.
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
	if err := secureBootStateError(string(b), res.Firmware.SecureBoot()); err != nil {
		t.Errorf("%s on %s passed but %v (log %s)", res.Entry, res.Firmware, err, res.Log)
	}
}

// reLinux is what a boot of Linux leaves on serial: the kernel's banner,
// or a fixture's marker (the case passed on it, so it arrived whole).
var reLinux = regexp.MustCompile(`Linux version [0-9]|` + fixture.Marker + `|` + fixture.LiveMarker + `|` + fixture.DracutMarker)

// reSecureBoot matches the two lines that say Linux's Secure Boot state:
// the kernel's, which can lose bytes on a loaded host, and the fixture
// init's copy of it, read back from the kernel log (fixture.SecureBootMarker).
var reSecureBoot = regexp.MustCompile(`(?m)secureboot: Secure boot (enabled|disabled)\r?$`)

// secureBootStateError says what is wrong with what a serial log of Linux
// says of Secure Boot: the wrong state in any line, or the right one in
// none; nil for a log that is not of Linux (memtest86+, iPXE).
func secureBootStateError(log string, secureBoot bool) error {
	if !reLinux.MatchString(log) {
		return nil
	}
	want, wrong := "disabled", "enabled"
	if secureBoot {
		want, wrong = wrong, want
	}
	said := map[string]int{}
	for _, m := range reSecureBoot.FindAllStringSubmatch(log, -1) {
		said[m[1]]++
	}
	switch {
	case said[wrong] > 0:
		return fmt.Errorf("Linux said %q", "Secure boot "+wrong)
	case said[want] == 0:
		return fmt.Errorf("neither the kernel nor the fixture's init (%s) said %q", fixture.SecureBootMarker, "Secure boot "+want)
	}
	return nil
}

// logDir is where a boot test's serial logs go: $COMPOSE_BOOT_LOGS/<test>
// (boot tests run in parallel and boot cases of the same names), else a
// temporary directory.
func logDir(t *testing.T) string {
	if d := os.Getenv("COMPOSE_BOOT_LOGS"); d != "" {
		return filepath.Join(d, t.Name())
	}
	return t.TempDir()
}

func humanPlan(p *Plan) string {
	var parts []string
	for _, pt := range p.Partitions {
		parts = append(parts, fmt.Sprintf("%d:%s %d MiB", pt.Index, pt.FS, pt.Size>>20))
	}
	return strings.Join(parts, ", ")
}

// logTail is the last n lines of a serial log, without terminal escapes, so
// a failure in CI shows what the guest printed.
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

// TestSecureBootStateFromSerial: the Secure Boot side assertion holds when
// bytes of the kernel's line were lost but the fixture's copy arrived, and
// fails on the wrong state in either line or on no statement at all.
func TestSecureBootStateFromSerial(t *testing.T) {
	const (
		banner   = "[    0.000000] Linux version 6.1.0-28-cloud-amd64 (debian-kernel@lists.debian.org)\r\n"
		kernelOn = "[    0.000000] secureboot: Secure boot enabled\r\n"
		kernelNo = "[    0.000000] secureboot: Secure boot disabled\r\n"
		lostOn   = "[    0.000000] secureboot: Secure bot enabled\r\n" // a byte lost
		lostNo   = "[    0.000000] secureot: Secure boot disbled\r\n"
		initOn   = "FIXTURE-SECUREBOOT secureboot: Secure boot enabled\r\n"
		initNo   = "FIXTURE-SECUREBOOT secureboot: Secure boot disabled\r\n"
		marker   = "ISOBOOT-OK name=tiny arch=amd64\r\n"
	)
	for _, c := range []struct {
		name, log string
		sb        bool
		fails     string
	}{
		{"plain UEFI, both lines", banner + kernelNo + initNo + marker, false, ""},
		{"Secure Boot, both lines", banner + kernelOn + initOn + marker, true, ""},
		{"kernel line lost bytes", banner + lostNo + initNo + marker, false, ""},
		{"Secure Boot, kernel line lost bytes", banner + lostOn + initOn + marker, true, ""},
		{"banner lost too", lostOn + initOn + marker, true, ""},
		{"an older fixture: the kernel line only", banner + kernelOn + marker, true, ""},
		{"Secure Boot not enforced", banner + kernelNo + initNo + marker, true, `Linux said "Secure boot disabled"`},
		{"enforced on plain UEFI", banner + kernelOn + initOn + marker, false, `Linux said "Secure boot enabled"`},
		{"the fixture's line contradicts", banner + lostOn + initNo + marker, true, `Linux said "Secure boot disabled"`},
		{"no line whole", banner + lostOn + marker, true, `neither the kernel nor the fixture's init`},
		{"not determined", banner + "[    0.000000] secureboot: Secure boot could not be determined (mode 0)\r\n" + marker, false, "neither"},
		{"not Linux", "iPXE initialising devices...ok\r\n", true, ""},
	} {
		err := secureBootStateError(c.log, c.sb)
		if c.fails == "" && err != nil || c.fails != "" && (err == nil || !strings.Contains(err.Error(), c.fails)) {
			t.Errorf("%s: %v; want failure %q", c.name, err, c.fails)
		}
	}
}

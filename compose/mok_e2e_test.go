package compose

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/internal/fixture"
	"github.com/usbkit/compose/compose/internal/testenv"
	"github.com/usbkit/compose/config/firmware"
	"github.com/usbkit/compose/fetch"
)

// TestBootSecureBootEnrolment is the Secure Boot proof through the real steps, driven
// through what `compose test` runs (Kit.BootTest, then boottest.Runner.RunAll). One kit
// holds (a) a live ISO whose kernel (Debian's cloud kernel, its signature removed) is
// signed by a vendor key made for the test, whose certificate compose takes out of the
// signature onto the stick; (b) Debian's memtest86+ and iPXE ISOs (unsigned), which
// compose signs with a MOK made for the test (sign_with). Under Secure Boot each entry
// fails as it is; RunAll then drives MokManager from the kit's own menu over the serial
// console, once, to enrol the stick's keys, and boots each entry again: all three must
// boot. A second kit holds (c) a live ISO signed by another vendor whose certificate
// secure_boot.enroll leaves out: it must still fail, with the remedy in the table.
func TestBootSecureBootEnrolment(t *testing.T) {
	t.Parallel() // beside the other boot tests: see e2eSetup
	if testing.Short() {
		testenv.Skip(t, "boot test: minutes under TCG; skipped with -short")
	}
	testenv.Tools(t, "qemu-system-x86_64", "openssl", "xorriso", "sbsign", "sbattach", "apt-get", "dpkg")
	for _, iso := range []string{memtestISO, "/usr/lib/ipxe/ipxe.iso"} {
		if _, err := os.Stat(iso); err != nil {
			missingFile(t, iso, "memtest86+ ipxe")
		}
	}
	fdir, err := fixture.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	tiny, err := (&fixture.Cache{Dir: fdir, Log: func(s string) { t.Log(s) }}).MinimalISO(fixture.AMD64, "tiny")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	vkey, vcert := mok(t, dir, "vendor", "/O=Vendorcorp Ltd./CN=Vendorcorp Secure Boot Signing")
	okey, ocert := mok(t, dir, "other", "/O=Othercorp/CN=Othercorp Secure Boot Signing")
	mok(t, dir, "MOK", "/CN=compose test MOK/")
	const live = "boot: live, expect: 'ISOBOOT-OK name=tiny arch=amd64'"
	kit := kitManifest(t, dir, "kit", "secure_boot:\n  enroll: [vendorcorp]\n  sign_with: {key: ../MOK.key, cert: ../MOK.crt}", map[string]string{
		"vendor":  isoLine(t, "vendor", resignedISO(t, dir, tiny, "vendor", vkey, vcert), live),
		"memtest": isoLine(t, "memtest", memtestISO, `expect: 'Memtest86\+ *v?[0-9]'`),
		"ipxe":    isoLine(t, "ipxe", "/usr/lib/ipxe/ipxe.iso", "expect: 'iPXE initialising'"),
	})
	results, table := enrolRun(t, kit)
	for _, res := range results {
		e := res.Enrolment
		if !res.Pass || res.Expected || e == nil || !e.Needed || !e.Done || e.Before != boottest.ReasonPayloadNotSigned {
			t.Errorf("%s must fail as it is (kernel not signed) and boot after enrolment: %+v %+v (%s)", res.Entry, res, e, res.Log)
			continue
		}
		want := "/EFI/compose/keys/compose.cer"
		if res.Entry == "vendor" {
			want = "/EFI/compose/keys/vendorcorp.cer"
		}
		if !slices.Equal(e.Keys, []string{want}) {
			t.Errorf("%s: enrolled %q, want %s", res.Entry, e.Keys, want)
		}
	}
	if len(results) != 3 || !strings.Contains(table, "enrolled vendorcorp.cer") {
		t.Errorf("want 3 cases, the MOK column saying what was enrolled:\n%s", table)
	}

	other := kitManifest(t, dir, "other", "secure_boot:\n  enroll: []", map[string]string{
		"other": isoLine(t, "other", resignedISO(t, dir, tiny, "other", okey, ocert), live),
	})
	results, table = enrolRun(t, other)
	if len(results) != 1 {
		t.Fatalf("want the one case: %+v", results)
	}
	res := results[0]
	if e := res.Enrolment; !res.Expected || res.Reason != boottest.ReasonPayloadNotSigned || e == nil || !e.Needed || e.Done || len(e.Keys) != 0 {
		t.Errorf("an entry whose signer was not enrolled must still fail as not signed: %+v %+v", res, e)
	}
	if !strings.Contains(table, "needed, no key on the stick") || !strings.Contains(table, "enroll the vendor's key with MokManager") {
		t.Errorf("the table must say no key was enrolled and give the remedy:\n%s", table)
	}
}

// enrolRun tests the kit in manifest as `compose test --secure-boot` does: Kit.BootTest
// builds it and plans the Secure Boot cases, RunAll boots them and enrols what they need.
func enrolRun(t *testing.T, manifest string) ([]boottest.Result, string) {
	t.Helper()
	ctx := context.Background()
	k, err := Load(manifest, Options{Fetch: fetch.Options{CacheDir: filepath.Join(filepath.Dir(manifest), "cache")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	run, err := k.BootTest(ctx, TestOptions{Machines: []Machine{{Firmware: firmware.UEFIX64, SecureBoot: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer run.Close()
	start := time.Now()
	r := &boottest.Runner{Image: run.Image, LogDir: logDir(t), Volume: run.Volume, OnEvent: func(e boottest.Event) {
		switch e.Kind {
		case boottest.EventDone:
			t.Logf("  %s: %s (%s) at %s", e.Case.Entry.Name, e.Result.Status(), e.Result.Reason, time.Since(start).Round(time.Second))
		case boottest.EventEnrolled:
			t.Logf("  MokManager enrolled %q: %v at %s", e.Enrol, e.Err, time.Since(start).Round(time.Second))
		}
	}}
	results, err := r.RunAll(ctx, runnerCases(t, run.Cases))
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	if err := boottest.WriteTable(&table, results); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s in %s:\n%s", filepath.Base(filepath.Dir(manifest)), time.Since(start).Round(time.Second), table.String())
	return results, table.String()
}

// kitManifest writes a Secure Boot kit of the given ISO lines into dir/name/multiboot.yaml.
func kitManifest(t testing.TB, dir, name, secureBoot string, isos map[string]string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nlabel: testkit\nfirmware: [uefi-x64]\n%s\nmenu:\n  console: serial\nisos:\n", secureBoot)
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range isos {
			if !yield(n) {
				return
			}
		}
	}) {
		b.WriteString(isos[n])
	}
	p := filepath.Join(dir, name, "multiboot.yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func isoLine(t testing.TB, name, iso, extra string) string {
	return fmt.Sprintf("  - {name: %s, path: %s, sha256: %q, %s}\n", name, iso, sha256File(t, iso), extra)
}

// resignedISO is src (the minimal live ISO) with its kernel's Debian signature removed
// (sbattach) and the kernel signed by key (sbsign): a vendor's kernel Debian's shim does
// not trust.
func resignedISO(t testing.TB, dir, src, name, key, cert string) string {
	t.Helper()
	tree := filepath.Join(dir, name+"-tree")
	testenv.Run(t, "xorriso", "-osirrox", "on", "-indev", src, "-extract", "/", tree)
	testenv.Run(t, "chmod", "-R", "u+w", tree)
	kernel := filepath.Join(tree, "live", "vmlinuz")
	testenv.Run(t, "sbattach", "--remove", kernel)
	testenv.Run(t, "sbsign", "--key", key, "--cert", cert, "--output", kernel, kernel)
	iso := filepath.Join(dir, name+".iso")
	testenv.Run(t, "xorriso", "-as", "mkisofs", "-quiet", "-V", strings.ToUpper(name), "-R", "-J", "-o", iso, tree)
	return iso
}

// BenchmarkEnrolment measures how often MokManager enrols a kit's two keys at the first
// try (no retry anywhere): run with -bench Enrolment -benchtime 5x; it reports the share
// of enrolments that succeeded and their mean time.
func BenchmarkEnrolment(b *testing.B) {
	testenv.Tools(b, "qemu-system-x86_64", "openssl", "xorriso", "sbsign", "sbattach", "apt-get", "dpkg")
	fdir, err := fixture.DefaultDir()
	if err != nil {
		b.Fatal(err)
	}
	tiny, err := (&fixture.Cache{Dir: fdir}).MinimalISO(fixture.AMD64, "tiny")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	vkey, vcert := mok(b, dir, "vendor", "/O=Vendorcorp Ltd./CN=Vendorcorp Secure Boot Signing")
	mok(b, dir, "MOK", "/CN=compose test MOK/")
	manifest := kitManifest(b, dir, "kit", "secure_boot:\n  sign_with: {key: ../MOK.key, cert: ../MOK.crt}", map[string]string{
		"vendor":  isoLine(b, "vendor", resignedISO(b, dir, tiny, "vendor", vkey, vcert), "boot: live"),
		"memtest": isoLine(b, "memtest", memtestISO, "title: memtest86+"),
	})
	ctx := context.Background()
	k, err := Load(manifest, Options{Fetch: fetch.Options{CacheDir: filepath.Join(dir, "cache")}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := k.Lock(ctx); err != nil {
		b.Fatal(err)
	}
	run, err := k.BootTest(ctx, TestOptions{Machines: []Machine{{Firmware: firmware.UEFIX64, SecureBoot: true}}})
	if err != nil {
		b.Fatal(err)
	}
	defer run.Close()
	r := &boottest.Runner{Image: run.Image, LogDir: b.TempDir()}
	ok := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_, err := r.Enrol(ctx, boottest.Enrolment{Firmware: boottest.UEFISB, Volume: run.Volume,
			Keys: []string{"/EFI/compose/keys/compose.cer", "/EFI/compose/keys/vendorcorp.cer"}, Timeout: boottest.DefaultEnrolTimeout})
		if err == nil {
			ok++
		} else {
			b.Logf("enrolment %d: %v", i+1, err)
		}
	}
	b.ReportMetric(float64(ok)/float64(b.N), "first-try-success")
}

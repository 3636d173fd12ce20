package boottest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usbkit/compose/compose/boottest/qemutest"
)

// The test binary doubles as qemu-system-x86_64 (FAKEQEMU=1): see package
// qemutest for what it does under each accelerator.
func TestMain(m *testing.M) {
	if os.Getenv("FAKEQEMU") == "1" {
		qemutest.Main()
		return
	}
	os.Exit(m.Run())
}

// fakeRunner is a Runner whose QEMU is this test binary, with env set for
// it; each test starts from a process that knows nothing about KVM.
func fakeRunner(t *testing.T, accel Accel, env ...string) (*Runner, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(t.TempDir(), "runs")
	t.Setenv("FAKEQEMU", "1")
	t.Setenv("FAKEQEMU_RUNS", runs)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	forgetKVM()
	t.Cleanup(forgetKVM)
	img := filepath.Join(t.TempDir(), "kit.img")
	os.WriteFile(img, nil, 0o644)
	files := Files{Firmware: BIOS, QEMU: exe}
	return &Runner{Image: img, LogDir: t.TempDir(), Accel: accel, Files: map[Variant]Files{BIOS: files},
		Keys: func(Entry) []string { return []string{"\r"} }}, runs
}

// withKVM makes /dev/kvm a file that opens, for the test.
func withKVM(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kvm")
	os.WriteFile(dev, nil, 0o644)
	old := kvmDevice
	kvmDevice = dev
	t.Cleanup(func() { kvmDevice = old })
}

func fakeCase() Case {
	return Case{Entry: Entry{Name: "tiny"}, Firmware: BIOS, Timeout: time.Minute}
}

// starts lists "<accel> <probe|boot>" for every fake QEMU started.
func starts(t *testing.T, runs string) string {
	t.Helper()
	b, _ := os.ReadFile(runs)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(l); len(f) == 3 {
			out = append(out, f[1]+" "+f[2])
		}
	}
	return strings.Join(out, ", ")
}

// TestKVMInternalErrorFailsFast: --accel kvm with a KVM that cannot run the
// guest ends the case at once with QEMU's words, not at the deadline, and
// QEMU is gone afterwards. Forced KVM is not probed.
func TestKVMInternalErrorFailsFast(t *testing.T) {
	r, runs := fakeRunner(t, AccelKVM, "FAKEQEMU_KVM=error")
	start := time.Now()
	res, err := r.Boot(context.Background(), fakeCase())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the case took %s: it must end when QEMU reports the error", took)
	}
	if res.Pass || res.Reason != ReasonQEMU || res.Accel != AccelKVM ||
		!strings.Contains(res.Detail, "KVM internal error. Suberror: 1") || !strings.Contains(res.Detail, "emulation failure") {
		t.Fatalf("want a qemu failure under kvm quoting QEMU, got %+v", res)
	}
	if got := starts(t, runs); got != "kvm boot" {
		t.Errorf("QEMU started as %q, want one boot under kvm", got)
	}
	checkGone(t, runs)
}

// TestAutoProbeFails: under auto with a /dev/kvm that opens, KVM is probed
// once before any case uses it; a probe that KVM fails makes every case run
// under TCG, each result saying why, the table's ACCEL column too, and
// KVMBroken (the CLI's one warning) gives the reason once.
func TestAutoProbeFails(t *testing.T) {
	withKVM(t)
	r, runs := fakeRunner(t, AccelAuto, "FAKEQEMU_PROBE=error")
	var probes []Probe
	r.OnEvent = func(e Event) {
		if e.Kind == EventProbe {
			probes = append(probes, *e.Probe)
		}
	}
	results, err := r.RunAll(context.Background(), []Case{fakeCase(), fakeCase()})
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if !res.Pass || res.Accel != AccelTCG || !strings.Contains(res.KVMError, "KVM failed its seabios probe: qemu: KVM internal error") {
			t.Errorf("case %d: want a pass under tcg that says why, got %+v", i, res)
		}
	}
	if got := starts(t, runs); got != "kvm probe, tcg boot, tcg boot" {
		t.Errorf("QEMU started as %q, want one kvm probe, then tcg boots", got)
	}
	if len(probes) != 1 || probes[0].Kind != "seabios" || probes[0].Why == "" || probes[0].Took > 10*time.Second {
		t.Errorf("want one failed seabios probe event, got %+v", probes)
	}
	if w := r.KVMBroken(); !strings.HasPrefix(w, "seabios: KVM failed its seabios probe") || strings.Count(w, "seabios:") != 1 {
		t.Errorf("KVMBroken must give the reason once: %q", w)
	}
	j, _ := json.Marshal(results[0])
	if !strings.Contains(string(j), `"accel":"tcg"`) || !strings.Contains(string(j), `"kvm_error":"KVM failed its seabios probe`) {
		t.Errorf("JSON must say which accelerator ran and why: %s", j)
	}
	var table strings.Builder
	WriteTable(&table, results)
	if !strings.Contains(table.String(), "tcg (kvm failed)") {
		t.Errorf("the ACCEL column must show the fallback:\n%s", table.String())
	}
	checkGone(t, runs)
}

// TestAutoProbeHangs: a KVM that runs the probe guest without a word (as
// SeaBIOS under a nested KVM does) costs the probe's deadline, once.
func TestAutoProbeHangs(t *testing.T) {
	withKVM(t)
	defer setProbeTimeout(time.Second)()
	r, runs := fakeRunner(t, AccelAuto, "FAKEQEMU_PROBE=hang")
	start := time.Now()
	results, err := r.RunAll(context.Background(), []Case{fakeCase(), fakeCase()})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("the run took %s", took)
	}
	for i, res := range results {
		if !res.Pass || res.Accel != AccelTCG || !strings.Contains(res.KVMError, `did not reach "compose-kvm-probe: done" within 1s (nothing on serial)`) {
			t.Errorf("case %d: %+v", i, res)
		}
	}
	if got := starts(t, runs); got != "kvm probe, tcg boot, tcg boot" {
		t.Errorf("QEMU started as %q", got)
	}
	checkGone(t, runs)
}

// shortStall makes a boot stalled after 2 s of silence (4 s once the
// kernel started), for the test.
func shortStall(t *testing.T) {
	old, oldKernel := stallAfter, stallAfterKernel
	stallAfter, stallAfterKernel = 2*time.Second, 4*time.Second
	t.Cleanup(func() { stallAfter, stallAfterKernel = old, oldKernel })
}

// TestKVMStallAfterKernel: once the kernel started, a live system may be
// silent for longer before the boot counts as stalled.
func TestKVMStallAfterKernel(t *testing.T) {
	withKVM(t)
	shortStall(t)
	r, runs := fakeRunner(t, AccelKVM)
	c := fakeCase()
	c.Marker = regexp.MustCompile("login:")
	res, err := r.Boot(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reason != ReasonStalled || res.Milestone != MilestoneKernel || !strings.Contains(res.Detail, "for 4s") {
		t.Errorf("want a stall after the kernel's longer bound, got %+v", res)
	}
	checkGone(t, runs)
}

func setProbeTimeout(d time.Duration) (restore func()) {
	old := probeTimeout["seabios"]
	probeTimeout["seabios"] = d
	return func() { probeTimeout["seabios"] = old }
}

// TestKVMStallRunsAgainUnderTCG: KVM passes the probe, then a boot under it
// draws the menu, takes Enter and goes silent; the case runs again under
// TCG before it can fail, and the rest of the run stays on TCG.
func TestKVMStallRunsAgainUnderTCG(t *testing.T) {
	withKVM(t)
	shortStall(t)
	r, runs := fakeRunner(t, AccelAuto, "FAKEQEMU_KVM=stall")
	results, err := r.RunAll(context.Background(), []Case{fakeCase(), fakeCase()})
	if err != nil {
		t.Fatal(err)
	}
	if got := starts(t, runs); got != "kvm probe, kvm boot, tcg boot, tcg boot" {
		t.Errorf("QEMU started as %q, want the probe, the stalled kvm boot, then tcg", got)
	}
	for i, res := range results {
		if !res.Pass || res.Accel != AccelTCG || !strings.Contains(res.KVMError, "stalled under kvm: nothing new on serial or screen for 2s") {
			t.Errorf("case %d: want a pass under tcg after the stall, got %+v", i, res)
		}
	}
	checkGone(t, runs)
}

// TestKVMStallForcedFails: under --accel kvm a stall is the case's failure,
// soon after the guest went quiet, not at the deadline.
func TestKVMStallForcedFails(t *testing.T) {
	withKVM(t)
	shortStall(t)
	r, runs := fakeRunner(t, AccelKVM, "FAKEQEMU_KVM=stall")
	res, err := r.Boot(context.Background(), fakeCase())
	if err != nil {
		t.Fatal(err)
	}
	if res.Pass || res.Reason != ReasonStalled || res.Milestone != MilestoneBooting || res.Duration > 20*time.Second {
		t.Errorf("want a stall after the entry started, got %+v", res)
	}
	checkGone(t, runs)
}

// TestKVMProven: a probe that passes lets the cases run under KVM, and a
// second runner in the same process does not probe again.
func TestKVMProven(t *testing.T) {
	withKVM(t)
	r, runs := fakeRunner(t, AccelAuto)
	if res, err := r.Boot(context.Background(), fakeCase()); err != nil || !res.Pass || res.Accel != AccelKVM || res.KVMError != "" {
		t.Fatalf("want a pass under kvm: %+v %v", res, err)
	}
	again := &Runner{Image: r.Image, LogDir: r.LogDir, Accel: r.Accel, Files: r.Files, Keys: r.Keys}
	if res, err := again.Boot(context.Background(), fakeCase()); err != nil || res.Accel != AccelKVM {
		t.Fatalf("want a pass under kvm: %+v %v", res, err)
	}
	if got := starts(t, runs); got != "kvm probe, kvm boot, kvm boot" {
		t.Errorf("QEMU started as %q, want one probe per process", got)
	}
	if r.KVMBroken() != "" {
		t.Errorf("KVMBroken: %q", r.KVMBroken())
	}
}

// TestCancelEndsQEMU: when the caller gives up (compose got SIGINT or
// SIGTERM), QEMU ends with the case.
func TestCancelEndsQEMU(t *testing.T) {
	r, runs := fakeRunner(t, AccelKVM, "FAKEQEMU_KVM=error")
	r.Keys = func(Entry) []string { return nil }
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for range 100 {
			if b, _ := os.ReadFile(runs); len(b) > 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
	}()
	if _, err := r.Boot(ctx, fakeCase()); err == nil {
		// the fake's KVM error can win the race; either way QEMU must be gone
		t.Log("the case ended before the cancel")
	}
	checkGone(t, runs)
}

// checkGone fails when a fake QEMU recorded in runs still exists.
func checkGone(t *testing.T, runs string) {
	t.Helper()
	b, err := os.ReadFile(runs)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var pid int
		fmt.Sscan(l, &pid)
		if pid > 0 && syscall.Kill(pid, 0) == nil {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("QEMU (pid %d) outlived its boot", pid)
		}
	}
}

// TestStderrWatch: QEMU's routine lines are not why it stopped; a machine
// the hypervisor cannot run (SMM for the Secure Boot OVMF) is fatal.
func TestStderrWatch(t *testing.T) {
	w := newStderrWatch(io.Discard)
	fmt.Fprint(w, "qemu-system-x86_64: -chardev socket,id=s0,path=/tmp/x/serial.sock,server=on,wait=on: info: QEMU waiting for connection on: disconnected:unix:/tmp/x/serial.sock,server=on\n")
	fmt.Fprint(w, "qemu-system-x86_64: warning: host doesn't support requested feature: CPUID.01H:ECX.pni [bit 0]\n")
	fmt.Fprint(w, "qemu-system-x86_64: System Management Mode not supported by this hypervisor.\n")
	select {
	case <-w.fatal:
	default:
		t.Error("SMM not supported must end the boot at once")
	}
	if got := w.message(); got != "qemu-system-x86_64: System Management Mode not supported by this hypervisor." {
		t.Errorf("message %q", got)
	}
	w = newStderrWatch(io.Discard)
	fmt.Fprint(w, "qemu-system-x86_64: -chardev socket,id=s0: info: QEMU waiting for connection on: x\nqemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory\n")
	if got := w.message(); got != "qemu-system-x86_64: cannot set up guest memory 'pc.ram': Cannot allocate memory" {
		t.Errorf("message %q", got)
	}
}

// TestGuestTemporariesCollected: a guest's directory in $TMPDIR (QEMU's
// sockets, screen dumps, variable store) that a SIGKILLed compose left is
// removed when the next guest starts; one of a live process stays. Found
// by the recheck pass: compose-qemu-* directories were named without the
// owner's PID and nothing ever removed them.
func TestGuestTemporariesCollected(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	dead, live := filepath.Join(tmp, "compose-qemu-999999999-1"), filepath.Join(tmp, "compose-qemu-1-2")
	for _, d := range []string{dead, live} {
		os.Mkdir(d, 0o700)
		os.WriteFile(filepath.Join(d, "vars.fd"), []byte("x"), 0o600)
	}
	r, _ := fakeRunner(t, AccelTCG)
	if res, err := r.Boot(context.Background(), fakeCase()); err != nil || !res.Pass {
		t.Fatalf("boot: %+v, %v", res, err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Error("the dead process's guest directory is still there")
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live process's guest directory was removed: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "compose-qemu-*"))
	if len(left) != 1 {
		t.Errorf("guest directories left: %v", left)
	}
}

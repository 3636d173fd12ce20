package boottest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as a fake qemu-system-x86_64 (FAKE_QEMU=1): under
// -accel kvm it prints what QEMU prints when KVM cannot run the guest and
// hangs, as the real one does; under tcg it serves the serial socket, draws
// a menu and, once Enter arrives, a kernel banner. Each run appends
// "<pid> <accel>" to $FAKE_QEMU_RUNS.
func TestMain(m *testing.M) {
	if os.Getenv("FAKE_QEMU") == "1" {
		fakeQEMU(os.Args[1:])
		return
	}
	os.Exit(m.Run())
}

func fakeQEMU(args []string) {
	var accel, sock string
	for i, a := range args {
		if a == "-accel" && i+1 < len(args) {
			accel = args[i+1]
		}
		if strings.HasPrefix(a, "socket,") {
			for _, kv := range strings.Split(a, ",") {
				if p, ok := strings.CutPrefix(kv, "path="); ok {
					sock = p
				}
			}
		}
	}
	if f, err := os.OpenFile(os.Getenv("FAKE_QEMU_RUNS"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644); err == nil {
		fmt.Fprintf(f, "%d %s\n", os.Getpid(), accel)
		f.Close()
	}
	if accel == "kvm" {
		fmt.Fprint(os.Stderr, "KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000000\nemulation failure\nRAX=0000000000000000 RBX=0000000000000000\n")
		time.Sleep(time.Hour)
		return
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	c, err := l.Accept()
	if err != nil {
		os.Exit(1)
	}
	fmt.Fprint(c, "SeaBIOS (version fake)\r\n Use the ^ and v keys to select which entry is highlighted.\r\n")
	r := bufio.NewReader(c)
	for {
		b, err := r.ReadByte()
		if err != nil {
			os.Exit(0)
		}
		if b == '\r' {
			break
		}
	}
	fmt.Fprint(c, "[    0.000000] Linux version 6.1.0-fake\r\n")
	time.Sleep(time.Hour)
}

// fakeRunner is a Runner whose QEMU is this test binary.
func fakeRunner(t *testing.T, accel Accel) (*Runner, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	runs := filepath.Join(t.TempDir(), "runs")
	t.Setenv("FAKE_QEMU", "1")
	t.Setenv("FAKE_QEMU_RUNS", runs)
	img := filepath.Join(t.TempDir(), "kit.img")
	os.WriteFile(img, nil, 0o644)
	files := Files{Firmware: BIOS, QEMU: exe}
	return &Runner{Image: img, LogDir: t.TempDir(), Accel: accel, Files: map[Firmware]Files{BIOS: files},
		Keys: func(Entry) []string { return []string{"\r"} }}, runs
}

func fakeCase() Case {
	return Case{Entry: Entry{Name: "tiny"}, Firmware: BIOS, Timeout: time.Minute}
}

// TestKVMInternalErrorFailsFast: --accel kvm with a KVM that cannot run the
// guest ends the case at once with QEMU's words, not at the deadline, and
// QEMU is gone afterwards.
func TestKVMInternalErrorFailsFast(t *testing.T) {
	r, runs := fakeRunner(t, AccelKVM)
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
	checkGone(t, runs)
}

// TestAutoFallsBackToTCG: under auto with a /dev/kvm that opens, the first
// case fails under KVM, runs again under TCG and passes; the verdict holds
// for the run, so the second case starts under TCG; JSON says which ran.
func TestAutoFallsBackToTCG(t *testing.T) {
	dev := filepath.Join(t.TempDir(), "kvm")
	os.WriteFile(dev, nil, 0o644)
	old := kvmDevice
	kvmDevice = dev
	defer func() { kvmDevice = old }()
	r, runs := fakeRunner(t, AccelAuto)
	results, err := r.RunAll(context.Background(), []Case{fakeCase(), fakeCase()})
	if err != nil {
		t.Fatal(err)
	}
	for i, res := range results {
		if !res.Pass || res.Accel != AccelTCG {
			t.Errorf("case %d: want a pass under tcg, got %+v", i, res)
		}
	}
	if !strings.Contains(results[0].KVMError, "KVM internal error") || results[1].KVMError != "" {
		t.Errorf("the first result must carry KVM's error, the second none: %q, %q", results[0].KVMError, results[1].KVMError)
	}
	if r.KVMBroken() == "" {
		t.Error("the runner must remember that KVM failed")
	}
	b, _ := os.ReadFile(runs)
	var accels []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		accels = append(accels, strings.Fields(l)[1])
	}
	if strings.Join(accels, ",") != "kvm,tcg,tcg" {
		t.Errorf("QEMU ran with %v, want kvm once then tcg", accels)
	}
	j, _ := json.Marshal(results[0])
	if !strings.Contains(string(j), `"accel":"tcg"`) || !strings.Contains(string(j), `"kvm_error":"qemu: KVM internal error`) {
		t.Errorf("JSON must say which accelerator ran: %s", j)
	}
	var table strings.Builder
	WriteTable(&table, results)
	if !strings.Contains(table.String(), "ACCEL") || !strings.Contains(table.String(), "kvm failed") {
		t.Errorf("table must show the accelerator and the fallback:\n%s", table.String())
	}
	checkGone(t, runs)
}

// TestCancelEndsQEMU: when the caller gives up (compose got SIGINT or
// SIGTERM), QEMU ends with the case.
func TestCancelEndsQEMU(t *testing.T) {
	r, runs := fakeRunner(t, AccelKVM)
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

package boottest

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeShare lays out firmware files as Debian installs them.
func fakeShare(t *testing.T, rel ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, r := range rel {
		p := filepath.Join(dir, r)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("firmware"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func found(name string) (string, error) { return "/usr/bin/" + name, nil }

func TestLocateMissingQEMU(t *testing.T) {
	_, err := LocateIn(UEFIARM64, fakeShare(t), func(string) (string, error) { return "", exec.ErrNotFound })
	var me *MissingError
	if !errors.Is(err, ErrNotInstalled) || !errors.As(err, &me) || me.Packages[0] != "qemu-system-arm" {
		t.Fatalf("want a MissingError naming qemu-system-arm, got %v", err)
	}
	if !strings.Contains(err.Error(), "qemu-system-aarch64") || !strings.Contains(err.Error(), "qemu-system-arm") {
		t.Fatalf("message must name the program and the package: %v", err)
	}
}

func TestLocateMissingFirmware(t *testing.T) {
	for fw, pkg := range map[Variant]string{UEFI: "ovmf", UEFISB: "ovmf", UEFIIA32: "ovmf-ia32",
		UEFIARM64: "qemu-efi-aarch64", BIOS: "seabios"} {
		_, err := LocateIn(fw, fakeShare(t), found)
		var me *MissingError
		if !errors.As(err, &me) || me.Packages[0] != pkg || me.Firmware != fw {
			t.Errorf("%s: want a MissingError naming %s, got %v", fw, pkg, err)
		}
	}
}

func TestLocateSecureBootFiles(t *testing.T) {
	share := fakeShare(t, "OVMF/OVMF_CODE_4M.secboot.fd", "OVMF/OVMF_VARS_4M.ms.fd")
	f, err := LocateIn(UEFISB, share, found)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(f.Code) != "OVMF_CODE_4M.secboot.fd" || filepath.Base(f.Vars) != "OVMF_VARS_4M.ms.fd" || f.QEMU != "/usr/bin/qemu-system-x86_64" {
		t.Fatalf("wrong files: %+v", f)
	}
}

func argsFor(t *testing.T, fw Variant, share string) ([]string, string) {
	t.Helper()
	f, err := LocateIn(fw, share, found)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "kit.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	args, err := VM{Image: img, Firmware: fw, Accel: AccelTCG}.headlessArgs(f, dir, fw == BIOS)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	if !strings.Contains(line, "path="+filepath.Join(dir, "serial.sock")+",") {
		t.Fatalf("serial socket outside the run's temp dir: %s", line)
	}
	return append([]string{f.QEMU}, args...), dir
}

func TestHeadlessCommandLine(t *testing.T) {
	share := fakeShare(t, "OVMF/OVMF_CODE_4M.secboot.fd", "OVMF/OVMF_VARS_4M.ms.fd",
		"AAVMF/AAVMF_CODE.fd", "AAVMF/AAVMF_VARS.fd", "seabios/bios-256k.bin")
	args, _ := argsFor(t, UEFISB, share)
	line := strings.Join(args, " ")
	for _, want := range []string{"snapshot=on", "-no-reboot", "-net none", "-display none", "-monitor none",
		"q35,smm=on", "property=secure,value=on", "server=on,wait=on", "-serial chardev:s0", "readonly=on,file=" + share} {
		if !strings.Contains(line, want) {
			t.Errorf("uefi-sb command lacks %q: %s", want, line)
		}
	}
	args, dir := argsFor(t, UEFIARM64, share)
	if args[0] != "/usr/bin/qemu-system-aarch64" || !strings.Contains(strings.Join(args, " "), "-machine virt") {
		t.Errorf("arm64 command: %v", args)
	}
	fi, err := os.Stat(filepath.Join(dir, "vars.fd"))
	if err != nil || fi.Size() != 64<<20 {
		t.Errorf("AAVMF vars copy must be 64 MiB: %v %v", fi, err)
	}
	// a persistence proof boots the image read-write: no snapshot
	f, err := LocateIn(UEFISB, share, found)
	if err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(t.TempDir(), "kit.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := VM{Image: img, Firmware: UEFISB, Accel: AccelTCG, Writable: true}.headlessArgs(f, t.TempDir(), false)
	if l := strings.Join(w, " "); err != nil || strings.Contains(l, "snapshot") || !strings.Contains(l, "file="+img+",") {
		t.Errorf("writable image: %v %s", err, l)
	}
	args, dir = argsFor(t, BIOS, share)
	line = strings.Join(args, " ")
	if !strings.Contains(line, "ide-hd,drive=d0") || strings.Contains(line, "pflash") {
		t.Errorf("bios command: %s", line)
	}
	// the screen is read through QMP, whose socket must exist before QEMU
	// waits for the serial client
	qmp, serial := strings.Index(line, "-qmp unix:"+filepath.Join(dir, "qmp.sock")), strings.Index(line, "-chardev socket")
	if qmp < 0 || qmp > serial {
		t.Errorf("bios command must open QMP before the serial socket: %s", line)
	}
}

func TestInteractiveSerial(t *testing.T) {
	share := fakeShare(t, "AAVMF/AAVMF_CODE.fd", "AAVMF/AAVMF_VARS.fd")
	f, _ := LocateIn(UEFIARM64, share, found)
	img := filepath.Join(t.TempDir(), "kit.img")
	os.WriteFile(img, nil, 0o644)
	m := VM{Image: img, Firmware: UEFIARM64, Files: &f}
	cmd, cleanup, err := InteractiveCmd(context.Background(), m, DisplaySerial)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(cmd.Args, " ")
	if !strings.Contains(line, "-serial mon:stdio") || !strings.Contains(line, "snapshot=on") {
		t.Errorf("serial mode: %s", line)
	}
	vars := line[strings.Index(line, "unit=1,file=")+len("unit=1,file="):]
	vars = vars[:strings.Index(vars, " ")]
	if err := cleanup(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vars); !os.IsNotExist(err) {
		t.Errorf("cleanup left %s", vars)
	}
	cmd, cleanup, _ = InteractiveCmd(context.Background(), m, DisplayWindow)
	defer cleanup()
	if line := strings.Join(cmd.Args, " "); !strings.Contains(line, "virtio-gpu-pci") || strings.Contains(line, "-display none") {
		t.Errorf("arm64 window mode needs a screen: %s", line)
	}
}

func TestBootMissingImage(t *testing.T) {
	share := fakeShare(t, "seabios/bios-256k.bin")
	f, _ := LocateIn(BIOS, share, found)
	r := &Runner{Image: "/nonexistent/kit.img", LogDir: t.TempDir(), Files: map[Variant]Files{BIOS: f}}
	if _, err := r.Boot(context.Background(), Case{Entry: Entry{Name: "x"}, Firmware: BIOS}); err == nil {
		t.Fatal("a missing image must be an error, not a failed boot")
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []Result{
		{Entry: "tiny", Firmware: UEFI, Pass: true, Milestone: MilestonePayload, Bar: MilestonePayload, Duration: 12340 * time.Millisecond, Proof: ProofExpect},
		{Entry: "iso", Firmware: BIOS, Pass: true, Milestone: MilestoneKernel, Bar: MilestoneKernel, Proof: ProofKernelBanner, Accel: AccelTCG, KVMError: "probe"},
		{Entry: "memtest86", Firmware: BIOS, Pass: true, Milestone: MilestonePayload, Proof: ProofFamily, Payload: ProofMemtest, MatchedOn: "screen"},
		{Entry: "memtest", Firmware: UEFISB, Pass: true, Expected: true, Milestone: MilestoneBooting, Reason: ReasonPayloadNotSigned},
		{Entry: "live", Firmware: BIOS, Milestone: MilestoneKernel, Reason: ReasonTimeout, Explanation: Explain(ReasonTimeout)},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"ENTRY", "PROOF", "tiny       uefi", "pass", "12.3s", "payload marker  expect ", "kernel started  kernel banner ",
		"tcg (kvm failed)", "family default (memtest86+) on screen", "xfail", "FAIL", "timeout: nothing decisive"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if AllPassed([]Result{{Pass: true}, {Pass: false}}) || !AllPassed([]Result{{Pass: true, Expected: true}}) {
		t.Error("AllPassed")
	}
}

func TestParseVariant(t *testing.T) {
	for _, f := range AllVariants {
		if got, err := ParseVariant(string(f)); err != nil || got != f {
			t.Errorf("%s: %v %v", f, got, err)
		}
	}
	if _, err := ParseVariant("efi"); err == nil || !strings.Contains(err.Error(), "uefi-x64-sb") {
		t.Errorf("bad name must list the good ones: %v", err)
	}
	for alias, want := range map[string]Variant{"uefi": UEFI, "uefi-sb": UEFISB, "uefi-arm64-sb": UEFIARM64SB} {
		if got, err := ParseVariant(alias); err != nil || got != want {
			t.Errorf("%s: got %v %v, want %s", alias, got, err, want)
		}
	}
	for f, want := range map[Variant]Variant{UEFI: UEFISB, UEFIARM64: UEFIARM64SB, UEFISB: UEFISB} {
		if got, err := f.WithSecureBoot(); err != nil || got != want {
			t.Errorf("%s with Secure Boot: %v %v", f, got, err)
		}
	}
	if _, err := BIOS.WithSecureBoot(); err == nil {
		t.Error("bios has no Secure Boot machine")
	}
}

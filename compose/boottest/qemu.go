package boottest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/usbkit/compose/compose/internal/stale"
)

// VM describes one QEMU run of a disk image.
type VM struct {
	Image    string  // raw disk image; QEMU opens it with snapshot=on, so it is never modified
	Writable bool    // open Image read-write instead: the guest's writes stay (a persistence proof)
	Firmware Variant // target to boot on
	Memory   int     // guest RAM in MiB; 0 means DefaultMemory
	Files    *Files  // QEMU and firmware paths; nil means Locate(Variant)
	Accel    Accel   // "" or AccelAuto: KVM where usable, else TCG
}

// DefaultMemory is the guest RAM when VM.Memory is 0: enough for a live
// system that copies nothing to RAM.
const DefaultMemory = 1024

// Display chooses how an interactive boot shows the guest.
type Display int

const (
	// DisplayAuto opens a window when $DISPLAY or $WAYLAND_DISPLAY is set,
	// else behaves as DisplaySerial.
	DisplayAuto Display = iota
	// DisplayWindow opens QEMU's window (VGA); serial is in its menu.
	DisplayWindow
	// DisplaySerial puts the guest's serial console on the terminal (QEMU's
	// stdin/stdout); Ctrl-A X quits. The kit must use console=serial|both.
	DisplaySerial
)

// files returns m.Files or locates them.
func (m VM) files() (Files, error) {
	if m.Files != nil {
		return *m.Files, nil
	}
	return Locate(m.Firmware)
}

// baseArgs is the command line shared by headless and interactive runs,
// minus display and serial, for m.Accel already chosen (KVM or TCG). dir
// receives the per-run copy of the firmware variable store. Without an
// image the machine has no disk (the KVM probe of UEFI firmware).
//
// The CPU is QEMU's default model under KVM as under TCG: "-cpu host" made
// QEMU abort at once on a host whose KVM cannot set an MSR the host CPU
// model has ("failed to set MSR 0x10a"), and one model keeps a KVM result
// and its TCG re-run comparable.
func (m VM) baseArgs(f Files, dir string) ([]string, error) {
	if m.Image != "" {
		if _, err := os.Stat(m.Image); err != nil {
			return nil, fmt.Errorf("disk image: %w", err)
		}
	}
	mem := m.Memory
	if mem == 0 {
		mem = DefaultMemory
	}
	args := []string{"-m", strconv.Itoa(mem), "-net", "none"}
	switch {
	case m.Accel == AccelKVM:
		args = append(args, "-accel", "kvm")
	case m.Firmware.ARM64():
		args = append(args, "-accel", "tcg", "-cpu", "cortex-a57")
	default:
		args = append(args, "-accel", "tcg")
	}
	if m.Accel == AccelKVM && m.Firmware.ARM64() {
		args = append(args, "-cpu", "host") // virt has no default CPU model that KVM runs
	}
	switch {
	case m.Firmware.ARM64():
		args = append(args, "-machine", "virt")
	case m.Firmware == BIOS:
		args = append(args, "-machine", "pc")
	case m.Firmware == UEFI:
		args = append(args, "-machine", "q35")
	default: // the secboot builds of OVMF need SMM and a secure flash
		args = append(args, "-machine", "q35,smm=on",
			"-global", "driver=cfi.pflash01,property=secure,value=on")
	}
	if f.Code != "" {
		vars := filepath.Join(dir, "vars.fd")
		if err := copyVars(f.Vars, vars, f.VarsSize); err != nil {
			return nil, err
		}
		args = append(args,
			"-drive", "if=pflash,format=raw,unit=0,readonly=on,file="+f.Code,
			"-drive", "if=pflash,format=raw,unit=1,file="+vars)
	}
	if m.Image == "" {
		return args, nil
	}
	drive := "file=" + m.Image + ",format=raw,if=none,id=d0"
	if !m.Writable {
		drive += ",snapshot=on"
	}
	args = append(args, "-drive", drive)
	if m.Firmware == BIOS {
		args = append(args, "-device", "ide-hd,drive=d0,bootindex=0")
	} else {
		args = append(args, "-device", "virtio-blk-pci,drive=d0,bootindex=0")
	}
	return args, nil
}

// copyVars gives each boot a fresh, writable variable store, so no run
// sees NVRAM entries another run wrote.
func copyVars(src, dst string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("firmware variables: %w", err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("firmware variables: %w", err)
	}
	n, err := io.Copy(out, in)
	if err == nil && size > n {
		err = out.Truncate(size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copying firmware variables %s: %w", src, err)
	}
	return nil
}

// InteractiveCmd builds the QEMU command for `compose boot`: the user sees
// the guest in a window or on the terminal and drives the menu. The caller
// runs the command (with Stdin/Stdout/Stderr set to the terminal) and then
// calls cleanup, which removes the per-run variable store. Under AccelAuto
// KVM runs only where it passed its probe (see Start).
func InteractiveCmd(ctx context.Context, m VM, d Display) (cmd *exec.Cmd, cleanup func() error, err error) {
	f, err := m.files()
	if err != nil {
		return nil, nil, err
	}
	if m.Accel, _, err = chooseAccel(ctx, m, f); err != nil {
		return nil, nil, err
	}
	stale.Collect(os.TempDir(), "", "boot", "")
	dir, err := os.MkdirTemp("", stale.Pattern("", "boot", ""))
	if err != nil {
		return nil, nil, fmt.Errorf("boot: %w", err)
	}
	cleanup = func() error { return os.RemoveAll(dir) }
	args, err := m.baseArgs(f, dir)
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	if d == DisplayAuto {
		d = DisplaySerial
		if os.Getenv("DISPLAY") != "" || os.Getenv("WAYLAND_DISPLAY") != "" {
			d = DisplayWindow
		}
	}
	if d == DisplaySerial {
		args = append(args, "-display", "none", "-serial", "mon:stdio")
	} else if m.Firmware.ARM64() { // virt has no screen or keyboard by default
		args = append(args, "-device", "virtio-gpu-pci", "-device", "qemu-xhci", "-device", "usb-kbd")
	}
	cmd = exec.CommandContext(ctx, f.QEMU, args...)
	ownChild(cmd, true)
	return cmd, cleanup, nil
}

// headlessArgs is a test boot's command line: no display, no monitor but
// QMP when the screen is read, no reboot, serial on a unix socket in dir
// that QEMU waits on before starting the guest.
func (m VM) headlessArgs(f Files, dir string, screen bool) ([]string, error) {
	args, err := m.baseArgs(f, dir)
	if err != nil {
		return nil, err
	}
	if screen { // before the serial chardev: QEMU creates it, then waits for the serial client
		args = append(args, "-qmp", "unix:"+filepath.Join(dir, "qmp.sock")+",server=on,wait=off")
	}
	return append(args, "-display", "none", "-monitor", "none", "-no-reboot",
		"-chardev", "socket,id=s0,path="+filepath.Join(dir, "serial.sock")+",server=on,wait=on", "-serial", "chardev:s0"), nil
}

// Stdio are the streams an interactive QEMU uses: the terminal.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
}

// RunInteractive runs QEMU for `compose boot` until it exits or ctx ends,
// and returns the accelerator it ran with. QEMU ends with compose (see
// ownChild). Under AccelAuto KVM runs only where it passed its probe
// (onFallback, when set, gets the probe's failure), and a KVM that fails
// the guest all the same (QEMU reports an internal error and would wait
// forever) ends that QEMU: the machine starts again under TCG, onFallback
// getting QEMU's message first.
func RunInteractive(ctx context.Context, m VM, d Display, stdio Stdio, onFallback func(msg string)) (Accel, error) {
	auto := m.Accel == "" || m.Accel == AccelAuto
	f, err := m.files()
	if err != nil {
		return "", err
	}
	m.Files = &f
	var p Probe
	if m.Accel, p, err = chooseAccel(ctx, m, f); err != nil {
		return "", err
	}
	if p.Why != "" && onFallback != nil {
		onFallback(p.Why)
	}
	for {
		fatal, err := runOnce(ctx, m, d, stdio)
		if fatal == "" || ctx.Err() != nil {
			return m.Accel, err
		}
		if !auto || m.Accel != AccelKVM {
			return m.Accel, errors.New("qemu: " + fatal)
		}
		distrustKVM(m.Firmware, f, "qemu: "+fatal)
		if onFallback != nil {
			onFallback(fatal)
		}
		m.Accel = AccelTCG
	}
}

// runOnce runs one interactive QEMU. fatal is QEMU's message when it
// reported that it cannot run the guest (it is then stopped).
func runOnce(ctx context.Context, m VM, d Display, stdio Stdio) (fatal string, err error) {
	cmd, cleanup, err := InteractiveCmd(ctx, m, d)
	if err != nil {
		return "", err
	}
	defer cleanup()
	stderr := newStderrWatch(stdio.Err)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.In, stdio.Out, stderr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting qemu: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-stderr.fatal:
		time.Sleep(300 * time.Millisecond) // the lines after the first
		cmd.Cancel()
		<-exited
		return stderr.message(), nil
	}
	var exit *exec.ExitError
	if err != nil && errors.As(err, &exit) && ctx.Err() != nil {
		return "", nil // stopped on the user's signal
	}
	if err != nil {
		if msg := stderr.message(); msg != "" {
			return "", fmt.Errorf("qemu: %s: %w", msg, err)
		}
		return "", fmt.Errorf("qemu: %w", err)
	}
	return "", nil
}

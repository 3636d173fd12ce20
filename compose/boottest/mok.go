package boottest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Enrolment asks MokManager, started from the kit's own menu, to enrol certificates (and
// hashes) from the stick, the way a user does it at the machine. Firmware must enforce
// Secure Boot (uefi-sb): MokManager is Debian's signed build and runs through shim.
type Enrolment struct {
	Firmware Firmware
	Volume   string        // the ESP's FAT label, as MokManager lists the volume
	Keys     []string      // ESP paths of DER certificates ("Enroll key from disk")
	Hashes   []string      // ESP paths of binaries ("Enroll hash from disk")
	Timeout  time.Duration // bounds the whole conversation; 0 means DefaultTimeout
}

// ErrEnrolment is wrapped by every error of Enrol that is MokManager not doing what the
// driver asked (as opposed to QEMU missing).
var ErrEnrolment = errors.New("MokManager enrolment failed")

// Enrol boots r.Image, selects the kit's MokManager entry, enrols every key and hash of e
// through MokManager's menus over the serial console, chooses Reboot, and returns the
// path of the firmware variable store that now holds the MOK list (in r.LogDir, named
// <firmware>-mokmanager.vars.fd). Use it as Files.Vars for the boots that follow: each
// boot copies it, so every boot starts from the enrolled state and changes nothing in it.
// The serial log is <LogDir>/<firmware>-mokmanager.log, the driver's reading of each
// screen and the key it sent <firmware>-mokmanager.keys.log. There is no retry: the
// driver (mokDriver) finds its way from any screen until e.Timeout.
func (r *Runner) Enrol(ctx context.Context, e Enrolment) (string, error) {
	if !e.Firmware.SecureBoot() {
		return "", fmt.Errorf("enrolment needs a Secure Boot firmware, not %s", e.Firmware)
	}
	m := Machine{Image: r.Image, Firmware: e.Firmware, Memory: r.Memory, Accel: r.accelFor(e.Firmware)}
	if f, ok := r.Files[e.Firmware]; ok {
		m.Files = &f
	}
	files, err := m.files()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	dir, err := os.MkdirTemp("", "compose-mok-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	cmd, sock, err := headlessCmd(ctx, m, files, dir)
	if err != nil {
		return "", err
	}
	base := filepath.Join(r.LogDir, string(e.Firmware)+"-mokmanager")
	logf, err := os.Create(base + ".log")
	if err != nil {
		return "", err
	}
	defer logf.Close()
	qerr := newStderrWatch(io.Discard)
	cmd.Stdout, cmd.Stderr = io.Discard, qerr
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting QEMU: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	conn, err := dialSerial(ctx, sock, &qemuProc{exited: exited, stderr: qerr, log: base + ".log"})
	if err != nil {
		return "", err
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-stop:
		}
	}()
	tracef, err := os.Create(base + ".keys.log")
	if err != nil {
		return "", err
	}
	defer tracef.Close()
	d := &mokDriver{conn: conn, log: logf, in: make(chan []byte, 64), stop: stop, end: time.Now().Add(e.Timeout), trace: tracef, start: time.Now()}
	go d.read()
	var tasks []mokTask
	for _, k := range e.Keys {
		tasks = append(tasks, mokTask{menu: "Enroll key from disk", file: k})
	}
	for _, h := range e.Hashes {
		tasks = append(tasks, mokTask{menu: "Enroll hash from disk", file: h})
	}
	if err := d.run(tasks, e.Volume); err != nil {
		return "", fmt.Errorf("%w: %v (serial log %s.log)", ErrEnrolment, err, base)
	}
	select { // Reboot: QEMU runs with -no-reboot, so it exits and the store is complete
	case <-exited:
		exited <- nil
	case <-ctx.Done():
		return "", fmt.Errorf("%w: the machine did not reboot after enrolment", ErrEnrolment)
	}
	out := base + ".vars.fd"
	if err := copyVars(filepath.Join(dir, "vars.fd"), out, 0); err != nil {
		return "", err
	}
	return out, nil
}

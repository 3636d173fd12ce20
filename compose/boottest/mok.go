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
	Firmware Variant
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
	files, err := r.files(e.Firmware)
	if err != nil {
		return "", err
	}
	accel, _, err := r.accelFor(ctx, e.Firmware, files)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	base := filepath.Join(r.LogDir, string(e.Firmware)+"-mokmanager")
	m := VM{Image: r.Image, Firmware: e.Firmware, Memory: r.Memory, Accel: accel}
	g, err := start(ctx, m, files, GuestOptions{SerialLog: base + ".log"})
	if err != nil {
		return "", err
	}
	defer g.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			g.Console.Close()
		case <-stop:
		}
	}()
	tracef, err := os.Create(base + ".keys.log")
	if err != nil {
		return "", err
	}
	defer tracef.Close()
	d := &mokDriver{conn: g.Console, log: io.Discard, in: make(chan []byte, 64), stop: stop, end: time.Now().Add(e.Timeout), trace: tracef, start: time.Now()}
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
	case <-g.Done():
	case <-ctx.Done():
		return "", fmt.Errorf("%w: the machine did not reboot after enrolment", ErrEnrolment)
	}
	out := base + ".vars.fd"
	if err := copyVars(g.Vars(), out, 0); err != nil {
		return "", err
	}
	return out, nil
}

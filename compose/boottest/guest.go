package boottest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/usbkit/compose/compose/internal/stale"
)

// Guest is one headless QEMU machine, started by Start: the module's only
// launcher of a test boot (compose test's Runner, the MokManager driver, the
// KVM probe and other packages' tests all start QEMU through it). It holds
// QEMU's process group, the serial console and, when asked for, QEMU's
// monitor for reading the VGA text screen. Close ends it.
type Guest struct {
	// Accel is the accelerator QEMU runs the guest with.
	Accel Accel
	// Fallback says why AccelAuto chose TCG although /dev/kvm opens (KVM
	// failed its probe for this firmware); "" otherwise.
	Fallback string
	// Console is the serial console: what the guest prints is read from it
	// (and copied to GuestOptions.SerialLog), keys are written to it.
	Console net.Conn

	cmd     *exec.Cmd
	dir     string
	vars    string // the per-run firmware variable store ("" for SeaBIOS)
	done    chan struct{}
	waitErr error
	stderr  *stderrWatch
	qemuLog string
	qmp     *qmpClient
	closers []io.Closer
	once    sync.Once
}

// GuestOptions tune Start.
type GuestOptions struct {
	SerialLog string // a copy of everything read from the serial console; "" keeps none
	QEMULog   string // QEMU's command line and its own output; "" keeps none
	// Screen opens QEMU's monitor (QMP) so that Guest.Screen can read the
	// VGA text screen: payloads such as memtest86+ and iPXE under SeaBIOS
	// draw there and print nothing on serial.
	Screen bool
}

// QEMUError is Start's error when QEMU could not run the guest: it did not
// start, exited before the serial console opened, or reported that it
// cannot run the guest (a KVM that opens but fails). Detail is QEMU's own
// words with the path of its log.
type QEMUError struct{ Detail string }

func (e *QEMUError) Error() string { return e.Detail }

// Start boots m headless: no display, no reboot (a reboot ends QEMU), the
// image with snapshot=on, the serial console on a socket QEMU holds the guest
// for until it is connected. Under AccelAuto the accelerator is KVM only
// where KVM passed its probe for m's firmware in this process (see
// kvmVerdict); Guest.Fallback says why not. QEMU runs in its own process
// group, killed when ctx ends, on Close, or when the caller's process dies.
// Errors: *MissingError when QEMU or a firmware file is missing, *QEMUError
// when QEMU could not run the guest.
func Start(ctx context.Context, m VM, o GuestOptions) (*Guest, error) {
	f, err := m.files()
	if err != nil {
		return nil, err
	}
	var p Probe
	if m.Accel, p, err = chooseAccel(ctx, m, f); err != nil {
		return nil, err
	}
	g, err := start(ctx, m, f, o)
	if g != nil {
		g.Fallback = p.Why
	}
	return g, err
}

// start is Start with the files located and the accelerator chosen.
func start(ctx context.Context, m VM, f Files, o GuestOptions) (*Guest, error) {
	// Named for this process, so that one a SIGKILL leaves (its sockets,
	// screen dumps and variable store) goes with the next start.
	stale.Collect(os.TempDir(), "", "qemu", "")
	dir, err := os.MkdirTemp("", stale.Pattern("", "qemu", ""))
	if err != nil {
		return nil, fmt.Errorf("qemu: %w", err)
	}
	g := &Guest{Accel: m.Accel, dir: dir, done: make(chan struct{}), qemuLog: o.QEMULog}
	ok := false
	defer func() {
		if !ok {
			g.Close()
		}
	}()
	args, err := m.headlessArgs(f, dir, o.Screen)
	if err != nil {
		return nil, err
	}
	if f.Code != "" {
		g.vars = filepath.Join(dir, "vars.fd")
	}
	qlog, err := g.create(o.QEMULog)
	if err != nil {
		return nil, fmt.Errorf("qemu log: %w", err)
	}
	slog, err := g.create(o.SerialLog)
	if err != nil {
		return nil, fmt.Errorf("serial log: %w", err)
	}
	cmd := exec.CommandContext(ctx, f.QEMU, args...)
	ownChild(cmd, false)
	g.stderr = newStderrWatch(qlog)
	cmd.Stdout, cmd.Stderr = qlog, g.stderr
	fmt.Fprintf(qlog, "# %s\n", strings.Join(cmd.Args, " "))
	if err := cmd.Start(); err != nil {
		return nil, &QEMUError{"starting qemu: " + err.Error()}
	}
	g.cmd = cmd
	go func() {
		g.waitErr = cmd.Wait()
		close(g.done)
	}()
	conn, err := g.dialSerial(ctx, filepath.Join(dir, "serial.sock"))
	if err != nil {
		return nil, err
	}
	g.Console = teeConn{conn, slog}
	if o.Screen {
		if g.qmp, err = dialQMP(filepath.Join(dir, "qmp.sock")); err != nil {
			fmt.Fprintf(qlog, "# the screen cannot be read: %v\n", err)
		}
	}
	ok = true
	return g, nil
}

// create opens a log file the guest closes, or discards when path is "".
func (g *Guest) create(path string) (io.Writer, error) {
	if path == "" {
		return io.Discard, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	g.closers = append(g.closers, f)
	return f, nil
}

// teeConn copies what is read from the console to the serial log.
type teeConn struct {
	net.Conn
	log io.Writer
}

func (t teeConn) Read(b []byte) (int, error) {
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.log.Write(b[:n])
	}
	return n, err
}

// dialSerial connects to QEMU's serial socket; QEMU creates it at start and
// holds the guest until a client connects.
func (g *Guest) dialSerial(ctx context.Context, sock string) (net.Conn, error) {
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			return conn, nil
		}
		select {
		case <-g.done:
			return nil, &QEMUError{"exited before the serial console opened: " + g.Failure()}
		case <-g.stderr.fatal:
			return nil, &QEMUError{g.Failure()}
		case <-ctx.Done():
			return nil, &QEMUError{fmt.Sprintf("serial console did not open: %v", ctx.Err())}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Done is closed when QEMU has exited.
func (g *Guest) Done() <-chan struct{} { return g.done }

// Fatal is closed when QEMU reports that it cannot run the guest (a KVM
// internal error leaves it waiting forever).
func (g *Guest) Fatal() <-chan struct{} { return g.stderr.fatal }

// Vars is the path of the run's firmware variable store ("" under
// SeaBIOS); it holds what the guest wrote once QEMU has exited.
func (g *Guest) Vars() string { return g.vars }

// Failure says why QEMU could not run the guest, in its own words: a fatal
// line on stderr (given a moment for the lines after it) or how it exited,
// with the path of its log.
func (g *Guest) Failure() string {
	select {
	case <-g.stderr.fatal:
		time.Sleep(300 * time.Millisecond)
	default:
	}
	msg := g.stderr.message()
	select {
	case <-g.done:
		if g.waitErr != nil {
			msg = strings.TrimPrefix(msg+"; "+g.waitErr.Error(), "; ")
		}
	default:
	}
	if msg == "" {
		msg = "qemu stopped"
	}
	if g.qemuLog != "" {
		msg += " (log " + g.qemuLog + ")"
	}
	return "qemu: " + msg
}

// exited waits up to d for QEMU to end and reports whether it failed.
func (g *Guest) exited(d time.Duration) (ended bool, err error) {
	select {
	case <-g.done:
		return true, g.waitErr
	case <-time.After(d):
		return false, nil
	}
}

// Close stops QEMU (its whole process group), waits for it and removes the
// run's files; the logs stay.
func (g *Guest) Close() error {
	g.once.Do(func() {
		if g.cmd != nil {
			select {
			case <-g.done:
			default:
				g.cmd.Cancel()
				<-g.done
			}
		}
		if g.Console != nil {
			g.Console.Close()
		}
		if g.qmp != nil {
			g.qmp.close()
		}
		for _, c := range g.closers {
			c.Close()
		}
		os.RemoveAll(g.dir)
	})
	return nil
}

// chunks reads the console until EOF or stop, one slice per read.
func (g *Guest) chunks(stop <-chan struct{}) <-chan []byte {
	out := make(chan []byte, 64)
	go func() {
		defer close(out)
		for {
			buf := make([]byte, 16<<10)
			n, err := g.Console.Read(buf)
			if n > 0 {
				select {
				case out <- buf[:n]:
				case <-stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// ErrFailLine is wrapped by Expect's error when a Fail pattern showed.
var ErrFailLine = errors.New("failure on the serial console")

package boottest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// EventKind tells what an Event reports.
type EventKind int

const (
	EventStart     EventKind = iota // QEMU is starting a case
	EventMilestone                  // a milestone was reached
	EventKeys                       // the menu keys were sent
	EventDone                       // the case finished; Result is set
	EventEnrol                      // MokManager is starting to enrol Enrol (RunAll)
	EventEnrolled                   // MokManager finished; Err is set when it failed
)

// Event reports progress of a boot; Runner.OnEvent receives them in order.
type Event struct {
	Kind      EventKind
	Case      Case
	Milestone Milestone     // EventMilestone
	Keys      string        // EventKeys
	At        time.Duration // since QEMU started
	Result    *Result       // EventDone
	Enrol     []string      // EventEnrol, EventEnrolled: the certificates' ESP paths
	Err       error         // EventEnrolled: why the enrolment failed
}

// Runner boots cases of one disk image headless, one at a time.
type Runner struct {
	Image   string               // raw disk image, never modified
	LogDir  string               // serial log per case: <LogDir>/<firmware>-<entry>.log (+ .qemu.log)
	Memory  int                  // guest RAM in MiB; 0 means DefaultMemory
	Files   map[Firmware]Files   // optional: where QEMU and firmware are; default Locate
	OnEvent func(Event)          // optional progress callback
	Keys    func(Entry) []string // optional: key groups that select an entry; default MenuKeys
	Accel   Accel                // "" or AccelAuto: KVM where usable, TCG after KVM failed once
	// Volume is the ESP's FAT label, the volume MokManager offers the keys on; RunAll
	// enrols a case's Enrol keys only with it set.
	Volume string
	// EnrolTimeout bounds one MokManager enrolment; 0 means DefaultEnrolTimeout.
	EnrolTimeout time.Duration

	mu        sync.Mutex
	kvmBroken string // QEMU's message when KVM failed a guest in this run
}

// accelFor is the accelerator the next boot of f starts with.
func (r *Runner) accelFor(f Firmware) Accel {
	r.mu.Lock()
	defer r.mu.Unlock()
	if (r.Accel == "" || r.Accel == AccelAuto) && r.kvmBroken != "" {
		return AccelTCG
	}
	return r.Accel.resolve(f)
}

// KVMBroken is QEMU's message when KVM failed a guest during this runner's
// boots (auto then runs everything under TCG), else "".
func (r *Runner) KVMBroken() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.kvmBroken
}

func (r *Runner) emit(e Event) {
	if r.OnEvent != nil {
		r.OnEvent(e)
	}
}

// MenuKeys are the keystrokes that pick entry e in GRUB's menu over serial,
// as groups, each sent once GRUB has gone quiet after the previous one: '^' (GRUB's "up") enough times
// to reach the top whatever the default, 'v' ("down") e.Index times, then
// Enter. Plain ASCII, never escape sequences: on UEFI both GRUB's serial
// driver and the firmware console read the same UART, so a multi-byte arrow
// key could be split between them; a single byte cannot.
//
// Keys go out in small groups, each once the console is quiet: a burst
// longer than the emulated UART's 16-byte FIFO loses bytes when the guest
// is slow to drain it (seen under Secure Boot on a loaded host).
func MenuKeys(e Entry) []string {
	keys := []string{}
	for range 5 {
		keys = append(keys, strings.Repeat("^", 8))
	}
	for range e.Index {
		keys = append(keys, "v")
	}
	return append(keys, "\r")
}

// Boot runs one case and returns its Result. The error is for problems that
// stop any boot (QEMU or firmware missing, log directory unwritable); a
// guest that fails to boot is a Result with Pass false. Under AccelAuto a
// boot QEMU fails under KVM runs again under TCG, and so do the runner's
// later boots.
func (r *Runner) Boot(ctx context.Context, c Case) (Result, error) {
	return r.bootFrom(ctx, c, store{})
}

// store is the firmware variable store a boot starts from: the firmware's own (zero
// value) or one MokManager enrolled keys into (Vars), whose boots log under <entry>-enrolled.
type store struct {
	Vars string
}

func (s store) logSuffix() string {
	if s.Vars == "" {
		return ""
	}
	return "-enrolled"
}

func (r *Runner) bootFrom(ctx context.Context, c Case, st store) (Result, error) {
	accel := r.accelFor(c.Firmware)
	res, err := r.boot(ctx, c, accel, st)
	if err != nil || accel != AccelKVM || res.Reason != ReasonQEMU || (r.Accel != "" && r.Accel != AccelAuto) {
		return res, err
	}
	r.mu.Lock()
	if r.kvmBroken == "" {
		r.kvmBroken = res.Detail
	}
	r.mu.Unlock()
	again, err := r.boot(ctx, c, AccelTCG, st)
	again.KVMError = res.Detail
	return again, err
}

func (r *Runner) boot(ctx context.Context, c Case, accel Accel, st store) (Result, error) {
	m := Machine{Image: r.Image, Firmware: c.Firmware, Memory: r.Memory, Accel: accel}
	if f, ok := r.Files[c.Firmware]; ok {
		m.Files = &f
	}
	files, err := m.files()
	if err != nil {
		return Result{}, err
	}
	if st.Vars != "" {
		files.Vars = st.Vars
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return Result{}, fmt.Errorf("log directory: %w", err)
	}
	base := filepath.Join(r.LogDir, string(c.Firmware)+"-"+reUnsafe.ReplaceAllString(c.Entry.Name, "_")+st.logSuffix())
	res := Result{Entry: c.Entry.Name, Firmware: c.Firmware, Accel: accel, Log: base + ".log"}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	r.emit(Event{Kind: EventStart, Case: c})
	w, err := r.run(ctx, m, files, c, base, &res)
	if err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil { // the caller gave up: not the guest's fault
		return Result{}, fmt.Errorf("booting %s on %s: %w", c.Entry.Name, c.Firmware, err)
	}
	w.verdict(&res)
	r.emit(Event{Kind: EventDone, Case: c, Result: &res})
	return res, nil
}

// reUnsafe matches what may not appear in a log file name.
var reUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// run starts QEMU, follows the serial console until the watcher decides,
// the deadline passes or QEMU exits, then stops QEMU.
func (r *Runner) run(ctx context.Context, m Machine, files Files, c Case, base string, res *Result) (*watcher, error) {
	dir, err := os.MkdirTemp("", "compose-boot-")
	if err != nil {
		return nil, fmt.Errorf("boot: %w", err)
	}
	defer os.RemoveAll(dir)
	logf, err := os.Create(res.Log)
	if err != nil {
		return nil, fmt.Errorf("serial log: %w", err)
	}
	defer logf.Close()
	qlog, err := os.Create(base + ".qemu.log")
	if err != nil {
		return nil, fmt.Errorf("qemu log: %w", err)
	}
	defer qlog.Close()

	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	cmd, sock, err := headlessCmd(ctx, m, files, dir)
	if err != nil {
		return nil, err
	}
	qerr := newStderrWatch(qlog)
	cmd.Stdout, cmd.Stderr = qlog, qerr
	fmt.Fprintf(qlog, "# %s\n", strings.Join(cmd.Args, " "))
	start := time.Now()
	w := &watcher{c: c, start: start}
	defer func() { res.Duration = time.Since(start) }()
	if err := cmd.Start(); err != nil {
		w.finish(false, ReasonQEMU, err.Error())
		return w, nil
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Cancel()
		<-exited
	}()
	q := &qemuProc{exited: exited, stderr: qerr, log: base + ".qemu.log"}
	conn, err := dialSerial(ctx, sock, q)
	if err != nil {
		w.finish(false, ReasonQEMU, err.Error())
		return w, nil
	}
	defer conn.Close()
	w.selectKeys = r.Keys
	if w.selectKeys == nil && c.Entry.Title == "" {
		w.selectKeys = MenuKeys
	}
	follow(ctx, conn, logf, w, r, q)
	return w, nil
}

// qemuProc is what a boot watches of QEMU besides the serial console.
type qemuProc struct {
	exited chan error // Wait's result; whoever receives it puts it back
	stderr *stderrWatch
	log    string
}

// failure says why QEMU could not run the guest, in QEMU's own words: a
// fatal line on stderr (given a moment for the lines after it) or how it
// exited.
func (q *qemuProc) failure(exitErr error) string {
	select {
	case <-q.stderr.fatal:
		time.Sleep(300 * time.Millisecond)
	default:
	}
	msg := q.stderr.message()
	if exitErr != nil {
		msg = strings.TrimPrefix(msg+"; "+exitErr.Error(), "; ")
	}
	if msg == "" {
		msg = "qemu stopped"
	}
	return "qemu: " + msg + " (log " + q.log + ")"
}

// exitStatus waits up to d for QEMU to end and returns how it ended.
func (q *qemuProc) exitStatus(d time.Duration) (ended bool, err error) {
	select {
	case err := <-q.exited:
		q.exited <- err
		return true, err
	case <-time.After(d):
		return false, nil
	}
}

// dialSerial connects to QEMU's serial socket; QEMU creates it at start and
// holds the guest until a client connects.
func dialSerial(ctx context.Context, sock string, q *qemuProc) (net.Conn, error) {
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			return conn, nil
		}
		select {
		case err := <-q.exited:
			q.exited <- err // let the deferred Wait-drain see it
			return nil, errors.New("exited before the serial console opened: " + q.failure(err))
		case <-q.stderr.fatal:
			return nil, errors.New(q.failure(nil))
		case <-ctx.Done():
			return nil, fmt.Errorf("serial console did not open: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// follow reads serial output into the log and the watcher until a verdict,
// EOF (QEMU exited) or the deadline.
func follow(ctx context.Context, conn net.Conn, logf *os.File, w *watcher, r *Runner, q *qemuProc) {
	chunks := make(chan []byte, 64)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 16<<10)
			n, err := conn.Read(buf)
			if n > 0 {
				select {
				case chunks <- buf[:n]:
				case <-stop:
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	var st stripper
	var lf lineFeed
	seen := MilestoneNone
	defer func() { r.report(w, seen) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastOutput := time.Now()
	for !w.done {
		seen = r.report(w, seen)
		if keys := w.nextKeys(time.Since(lastOutput)); keys != "" {
			conn.Write([]byte(keys))
			lastOutput = time.Now()
			r.emit(Event{Kind: EventKeys, Case: w.c, Keys: keys, At: time.Since(w.start)})
		}
		select {
		case b, ok := <-chunks:
			if !ok {
				if ended, err := q.exitStatus(2 * time.Second); ended && err != nil {
					w.finish(false, ReasonQEMU, q.failure(err))
					return
				}
				w.finish(false, ReasonExited, "the serial console closed: the guest powered off or QEMU stopped")
				return
			}
			logf.Write(b)
			lastOutput = time.Now()
			lf.push(st.strip(b), w.line)
		case <-q.stderr.fatal:
			w.finish(false, ReasonQEMU, q.failure(nil))
			return
		case <-tick.C:
		case <-ctx.Done():
			w.finish(false, ReasonTimeout, fmt.Sprintf("after %s, last milestone: %s", w.c.Timeout, w.reached))
			return
		}
	}
}

// report emits the milestones reached since the last call.
func (r *Runner) report(w *watcher, seen Milestone) Milestone {
	for _, t := range w.times {
		if t.Milestone > seen {
			seen = t.Milestone
			r.emit(Event{Kind: EventMilestone, Case: w.c, Milestone: t.Milestone, At: t.At})
		}
	}
	return seen
}

package boottest

import (
	"context"
	"errors"
	"fmt"
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
	EventProbe                      // KVM was probed for Case.Firmware's kind; Probe is set
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
	Probe     *Probe        // EventProbe: the outcome
}

// Runner boots cases of one disk image headless, one at a time.
type Runner struct {
	Image   string               // raw disk image, never modified unless Writable
	LogDir  string               // per case: <LogDir>/<firmware>-<entry>.log (serial), .qemu.log, .screen.txt (SeaBIOS)
	Memory  int                  // guest RAM in MiB; 0 means DefaultMemory
	Files   map[Variant]Files    // optional: where QEMU and firmware are; default Locate
	OnEvent func(Event)          // optional progress callback
	Keys    func(Entry) []string // optional: key groups that select an entry; default MenuKeys
	// Accel: "" or AccelAuto uses KVM for a kind of firmware only once KVM
	// passed its probe for that kind, and TCG for that kind after KVM failed
	// or stalled a boot.
	Accel Accel
	// Writable boots Image read-write, so what a guest writes is there for the
	// next boot (a live system's persistence, written then read back).
	Writable bool
	// Volume is the ESP's FAT label, the volume MokManager offers the keys on; RunAll
	// enrols a case's Enrol keys only with it set.
	Volume string
	// EnrolTimeout bounds one MokManager enrolment; 0 means DefaultEnrolTimeout.
	EnrolTimeout time.Duration

	mu        sync.Mutex
	fallbacks []string          // "<kind>: why", in the order they happened
	fellBack  map[string]string // kind → why this run's boots of it ran under TCG
}

// accelFor is the accelerator the next boot of f starts with, and why it is
// TCG although auto would use KVM. Under auto it probes KVM for f's kind
// (once per process).
func (r *Runner) accelFor(ctx context.Context, f Variant, files Files) (Accel, string, error) {
	a, p, err := chooseAccel(ctx, VM{Firmware: f, Accel: r.Accel}, files)
	if err != nil {
		return "", "", err
	}
	if p.Took > 0 {
		r.emit(Event{Kind: EventProbe, Case: Case{Firmware: f}, Probe: &p, At: p.Took})
	}
	if p.Why != "" {
		r.fellBackOn(f, p.Why)
	}
	return a, p.Why, nil
}

// fellBackOn records why f's kind ran under TCG in this run.
func (r *Runner) fellBackOn(f Variant, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fellBack == nil {
		r.fellBack = map[string]string{}
	}
	k := kvmKind(f)
	if _, ok := r.fellBack[k]; !ok {
		r.fellBack[k] = why
		r.fallbacks = append(r.fallbacks, k+": "+why)
	}
}

// KVMBroken says why this runner's boots ran under TCG although /dev/kvm
// opens, per kind of firmware ("seabios: KVM's seabios probe did not reach
// …"), "" when none did.
func (r *Runner) KVMBroken() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.fallbacks, "; ")
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
// guest that fails to boot is a Result with Pass false. Under AccelAuto
// KVM runs the case only once it passed its probe for the firmware's kind,
// and a boot that QEMU fails or that stalls under KVM runs again under
// TCG, as do the later boots of that kind.
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
	files, err := r.files(c.Firmware)
	if err != nil {
		return Result{}, err
	}
	if st.Vars != "" {
		files.Vars = st.Vars
	}
	accel, why, err := r.accelFor(ctx, c.Firmware, files)
	if err != nil {
		return Result{}, err
	}
	res, err := r.boot(ctx, c, files, accel, st)
	res.KVMError = why
	auto := r.Accel == "" || r.Accel == AccelAuto
	if err != nil || accel != AccelKVM || !auto || (res.Reason != ReasonQEMU && res.Reason != ReasonStalled) {
		return res, err
	}
	why = "the boot under kvm failed: " + string(res.Reason) + ": " + res.Detail
	distrustKVM(c.Firmware, files, why)
	r.fellBackOn(c.Firmware, why)
	again, err := r.boot(ctx, c, files, AccelTCG, st)
	again.KVMError = why
	return again, err
}

// files are QEMU and the firmware for f: Runner.Files', else Locate's.
func (r *Runner) files(f Variant) (Files, error) {
	if files, ok := r.Files[f]; ok {
		return files, nil
	}
	return Locate(f)
}

func (r *Runner) boot(ctx context.Context, c Case, files Files, accel Accel, st store) (Result, error) {
	m := VM{Image: r.Image, Firmware: c.Firmware, Memory: r.Memory, Accel: accel, Writable: r.Writable}
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

// run starts QEMU, follows the serial console (and under SeaBIOS the
// screen) until the watcher decides, the deadline passes or QEMU exits,
// then stops QEMU.
func (r *Runner) run(ctx context.Context, m VM, files Files, c Case, base string, res *Result) (*watcher, error) {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	begin := time.Now()
	w := newWatcher(c, begin)
	defer func() { res.Duration = time.Since(begin) }()
	opts := GuestOptions{SerialLog: res.Log, QEMULog: base + ".qemu.log", Screen: m.Firmware == BIOS}
	g, err := start(ctx, m, files, opts)
	var qe *QEMUError
	if errors.As(err, &qe) {
		w.finish(false, ReasonQEMU, qe.Detail)
		return w, nil
	}
	if err != nil {
		return nil, err
	}
	defer g.Close()
	var scr *screenLog
	if opts.Screen {
		res.ScreenLog = base + ".screen.txt"
		if scr, err = newScreenLog(res.ScreenLog, begin); err != nil {
			return nil, err
		}
		defer scr.close()
	}
	w.selectKeys = r.Keys
	if w.selectKeys == nil && c.Entry.Title == "" {
		w.selectKeys = MenuKeys
	}
	r.follow(ctx, g, w, scr)
	return w, nil
}

// stallAfter is how long a boot under KVM may show nothing new, on serial
// or screen, before it counts as stalled and runs again under TCG. A
// working KVM shows something within seconds at every step up to the
// kernel; GRUB reading a large initrd silently is the longest pause
// expected, and a lost Enter is typed again after enterLost. Once the
// kernel started, a live system booted with "quiet" may be silent for
// longer (mounting its root, starting services): stallAfterKernel.
var (
	stallAfter       = 25 * time.Second
	stallAfterKernel = 90 * time.Second
)

// stallBound is how long the guest may be silent at its milestone.
func (w *watcher) stallBound() time.Duration {
	if w.reached >= MilestoneKernel {
		return stallAfterKernel
	}
	return stallAfter
}

// follow reads serial output (and the screen, every screenPollInterval)
// into the watcher until a verdict, EOF (QEMU exited) or the deadline.
func (r *Runner) follow(ctx context.Context, g *Guest, w *watcher, scr *screenLog) {
	stop := make(chan struct{})
	defer close(stop)
	chunks := g.chunks(stop)
	var st stripper
	var lf lineFeed
	own := stripper{moves: true} // the payload's own output, cut at cursor moves too
	var ownLines lineFeed
	serial := func(s string, partial bool) { w.ownOutput(s, partial, "serial") }
	seen := MilestoneNone
	defer func() { r.report(w, seen) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lastOutput := time.Now() // serial output or keys: the console's quiet
	lastNews := time.Now()   // serial output or a changed screen: the guest runs
	nextScreen := time.Now()
	for !w.done {
		seen = r.report(w, seen)
		if r.typeKeys(g, w, scr, time.Since(lastOutput)) {
			lastOutput = time.Now()
		}
		if bound := w.stallBound(); g.Accel == AccelKVM && time.Since(lastNews) > bound {
			w.finish(false, ReasonStalled, fmt.Sprintf("nothing new on serial or screen for %s, last milestone: %s", bound, w.reached))
			return
		}
		select {
		case b, ok := <-chunks:
			if !ok {
				w.qemuEnded(g)
				return
			}
			lastOutput, lastNews = time.Now(), time.Now()
			lf.push(st.strip(b), w.line)
			ownLines.push(own.strip(b), serial)
		case <-g.Fatal():
			w.finish(false, ReasonQEMU, g.Failure())
			return
		case <-tick.C:
		case <-ctx.Done():
			w.finish(false, ReasonTimeout, fmt.Sprintf("after %s, last milestone: %s", w.c.Timeout, w.reached))
			return
		}
		if scr != nil && !w.done && time.Now().After(nextScreen) {
			nextScreen = time.Now().Add(screenPollInterval)
			if s, err := g.Screen(); err == nil && scr.changed(s) {
				lastNews = time.Now()
				w.screen(s.Lines())
			}
		}
	}
}

// typeKeys types the keys the watcher wants now, if any. When they start
// the entry, the screen is read first: all it shows then is the menu's,
// GRUB's or the firmware's, never the payload's.
func (r *Runner) typeKeys(g *Guest, w *watcher, scr *screenLog, quiet time.Duration) bool {
	before := w.reached
	keys := w.nextKeys(quiet)
	if keys == "" {
		return false
	}
	if scr != nil && before < MilestoneBooting && w.reached >= MilestoneBooting {
		if s, err := g.Screen(); err == nil {
			scr.changed(s)
			w.shown(s.Lines())
		}
	}
	g.Console.Write([]byte(keys))
	r.emit(Event{Kind: EventKeys, Case: w.c, Keys: keys, At: time.Since(w.start)})
	return true
}

// qemuEnded decides a boot whose serial console closed: QEMU failed, or
// the guest stopped (powered off, rebooted) before the bar.
func (w *watcher) qemuEnded(g *Guest) {
	if ended, err := g.exited(2 * time.Second); ended && err != nil {
		w.finish(false, ReasonQEMU, g.Failure())
		return
	}
	w.finish(false, ReasonExited, "the serial console closed: the guest powered off or QEMU stopped")
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

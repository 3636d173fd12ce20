// Package progress shows the progress of long work (downloads, placing files,
// verifying, writing devices) the way the CLI's output rules say: bars on a
// terminal, plain periodic lines elsewhere, JSON lines for machines, nothing
// when quiet. It knows nothing of what the work is: callers send Updates.
//
// A task is one phase of one item (fetch debian, place files, verify files,
// write /dev/sdb): two phases of one item are two tasks. A task's size is the
// latest non-zero Total sent for it. Its speed is measured over the last few
// seconds of this run only (a resumed prefix or a cached item moved nothing)
// and falls when nothing arrives; its ETA is the bytes left at that speed.
// Either is shown as "?" while unknown, never negative. A phase with two
// tasks or more also shows a total that counts only what this run still has
// to move: cached items and resumed prefixes are left out of it, a failed
// task counts what it moved, and no task counts more than its size.
//
// On a terminal (Bars) every running task has one bar, redrawn in place;
// a finished task leaves one line above the bars and never a second bar.
// Off a terminal (Lines) a task prints a line when its state changes and,
// while it runs, every Interval with its rate and ETA; nothing is printed
// per progress event. Close prints what each unfinished task had done
// ("stopped at …"): after Ctrl-C that is what is on disk, as far as the
// last update said. compose prints no colour, so NO_COLOR holds trivially.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// Mode is how updates are shown.
type Mode int

// Modes.
const (
	Off   Mode = iota // show nothing
	Lines             // a line when a task's state changes, and every Interval while it runs
	JSON              // one JSON object a line, progress at most every Interval per task
	Bars              // live bars with speed and ETA (a terminal)
)

// State of a task.
type State string

// States.
const (
	Running  State = "running"
	Retrying State = "retrying" // Msg says why; the task goes on
	Waiting  State = "waiting"  // another process holds what the task needs; Msg says who
	Warning  State = "warning"  // Msg says what; the task goes on
	Done     State = "done"
	Failed   State = "failed"
)

// Update reports one task: Done of Total bytes (Total 0 when unknown).
// Cached marks a task that found its result already there (with Done): it
// moved nothing, so it counts in no total. Done 0 in a Failed update means
// "unchanged": a failure does not undo what arrived.
type Update struct {
	Phase  string `json:"phase"` // e.g. fetch, place, verify
	ID     string `json:"id"`
	Done   int64  `json:"done"`
	Total  int64  `json:"total,omitempty"`
	State  State  `json:"state"`
	Msg    string `json:"message,omitempty"`
	Cached bool   `json:"cached,omitempty"`
}

// Interval is how often Lines and JSON report a running task.
const Interval = 5 * time.Second

// frame is how often bars are redrawn.
const frame = 200 * time.Millisecond

// Display renders updates. It is safe for concurrent use.
type Display struct {
	mu     sync.Mutex
	w      io.Writer
	mode   Mode
	now    func() time.Time
	width  int // terminal columns (Bars)
	board  *board
	drawn  int                  // Bars: lines of the live area now on screen
	above  []string             // Bars: finished lines to print above the bars at the next draw
	last   map[string]time.Time // JSON: per task, when last shown; Lines: per phase, its total
	state  map[string]State     // JSON: per task, the state last shown
	stop   chan struct{}
	ticker sync.WaitGroup
	closed bool
}

// New returns a display writing to w in mode. Bars and Lines run a ticker
// (redraws, periodic lines) until Close.
func New(w io.Writer, mode Mode) *Display {
	d := newDisplay(w, mode, time.Now, termWidth(w))
	period := map[Mode]time.Duration{Bars: frame, Lines: time.Second}[mode]
	if period > 0 {
		d.stop = make(chan struct{})
		d.ticker.Add(1)
		go d.run(period, d.stop)
	}
	return d
}

func newDisplay(w io.Writer, mode Mode, now func() time.Time, width int) *Display {
	return &Display{w: w, mode: mode, now: now, width: width, board: newBoard(),
		last: map[string]time.Time{}, state: map[string]State{}}
}

func termWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return cols
		}
	}
	return 80
}

func (d *Display) run(period time.Duration, stop <-chan struct{}) {
	defer d.ticker.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			d.tick()
		}
	}
}

// tick is the ticker's work: a new frame of bars, or the periodic lines.
func (d *Display) tick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	switch d.mode {
	case Bars:
		d.draw()
	case Lines:
		d.periodic()
	}
}

// Update shows u as the mode says.
func (d *Display) Update(u Update) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.mode == Off {
		return
	}
	if d.mode == JSON {
		if d.due(u) {
			b, _ := json.Marshal(u) // plain data: cannot fail
			fmt.Fprintf(d.w, "%s\n", b)
		}
		return
	}
	now := d.now()
	t, news, start := d.board.apply(u, now)
	if news == "" || (start && d.mode == Bars) { // on a terminal the new bar says it began
		return
	}
	d.note(news)
	t.shown = now
	if d.mode == Bars {
		d.draw() // the line above the bars shows at once, in order
	}
}

// note prints a line: above the bars, or as a plain line.
func (d *Display) note(s string) {
	if d.mode == Bars {
		d.above = append(d.above, s)
		return
	}
	fmt.Fprintf(d.w, "compose: %s\n", s)
}

// periodic prints, off a terminal, a line for each task that ran for an
// Interval without one, and with them their phase's total, at most every
// Interval too.
func (d *Display) periodic() {
	now := d.now()
	phases := map[string]bool{}
	for _, t := range d.board.tasks {
		if !t.finished() && t.state == Running && now.Sub(t.shown) >= Interval {
			d.note(t.progressLine(now))
			t.shown = now
			phases[t.phase] = true
		}
	}
	for _, ph := range d.board.phases {
		if tot, ok := d.board.total(ph, now); ok && phases[ph] && now.Sub(d.last["total\x00"+ph]) >= Interval {
			d.note(tot.line())
			d.last["total\x00"+ph] = now
		}
	}
}

// due says whether u is worth showing now as a JSON line: every change of
// state, every message of a retry, a wait or a warning, and a running task
// at most every Interval.
func (d *Display) due(u Update) bool {
	key := u.Phase + "\x00" + u.ID
	last, seen := d.last[key]
	switch {
	case seen && u.State == Running && d.state[key] == Running && d.now().Sub(last) < Interval:
		return false
	case seen && (u.State == Done || u.State == Failed) && u.State == d.state[key]:
		return false // a repeated done or failed
	}
	d.last[key], d.state[key] = d.now(), u.State
	return true
}

// Close finishes the display: each unfinished task says where it stopped,
// and the bars are drawn one last time. It may be called more than once.
func (d *Display) Close() {
	if d.stop != nil {
		close(d.stop)
		d.ticker.Wait()
		d.stop = nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	now := d.now()
	if d.mode == Bars || d.mode == Lines {
		for _, t := range d.board.tasks {
			if !t.finished() {
				t.ended = now
				d.note(t.stoppedLine())
			}
		}
	}
	d.closed = true
	if d.mode == Bars {
		d.draw()
	}
}

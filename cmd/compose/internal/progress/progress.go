// Package progress shows the progress of long work (downloads, placing files,
// verifying, writing devices) the way the CLI's output rules say: bars on a
// terminal, plain periodic lines elsewhere, JSON lines for machines, nothing
// when quiet. It knows nothing of what the work is: callers send Updates.
package progress

import (
	"encoding/json"
	"fmt"
	"github.com/usbkit/compose/config/bytesize"
	"io"
	"sync"
	"time"
)

// Mode is how updates are shown.
type Mode int

// Modes.
const (
	Off   Mode = iota // show nothing
	Lines             // a line when a task starts or ends, and every Interval while it runs
	JSON              // one JSON object a line, progress at most every Interval per task
	Bars              // live bars with speed and ETA (a terminal)
)

// State of a task.
type State string

// States.
const (
	Running  State = "running"
	Retrying State = "retrying"
	Waiting  State = "waiting" // another process holds what the task needs; Msg says who
	Done     State = "done"
	Failed   State = "failed"
)

// Update reports one task: Done of Total bytes (Total 0 when unknown).
type Update struct {
	Phase string `json:"phase"` // e.g. fetch, place, verify
	ID    string `json:"id"`
	Done  int64  `json:"done"`
	Total int64  `json:"total,omitempty"`
	State State  `json:"state"`
	Msg   string `json:"message,omitempty"`
}

// Interval is how often Lines and JSON report a running task.
const Interval = 5 * time.Second

// Display renders updates. It is safe for concurrent use.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	mode  Mode
	now   func() time.Time
	last  map[string]time.Time // per task: when it was last shown
	state map[string]State     // per task: the state last shown
	bars  *bars
}

// New returns a display writing to w in mode.
func New(w io.Writer, mode Mode) *Display {
	d := &Display{w: w, mode: mode, now: time.Now, last: map[string]time.Time{}, state: map[string]State{}}
	if mode == Bars {
		d.bars = newBars(w)
	}
	return d
}

// Update shows u as the mode says.
func (d *Display) Update(u Update) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch d.mode {
	case Bars:
		d.bars.update(u)
	case Lines, JSON:
		if !d.due(u) {
			return
		}
		if d.mode == JSON {
			b, _ := json.Marshal(u) // plain data: cannot fail
			fmt.Fprintf(d.w, "%s\n", b)
		} else {
			fmt.Fprintf(d.w, "compose: %s\n", line(u))
		}
	}
}

// due says whether u is worth showing now: every change of state, and a
// running task at most every Interval.
func (d *Display) due(u Update) bool {
	key := u.Phase + "\x00" + u.ID
	last, seen := d.last[key]
	switch {
	case seen && u.State == Running && d.now().Sub(last) < Interval:
		return false
	case seen && u.State != Running && u.State == d.state[key]:
		return false // a repeated done or failed
	}
	d.last[key], d.state[key] = d.now(), u.State
	return true
}

// Close finishes the display; bars are drawn one last time.
func (d *Display) Close() {
	if d.bars != nil {
		d.bars.close()
	}
}

func line(u Update) string {
	if u.State == Waiting && u.Msg != "" { // the message says it waits, and for whom
		return fmt.Sprintf("%s %s: %s", u.Phase, u.ID, u.Msg)
	}
	s := fmt.Sprintf("%s %s: %s", u.Phase, u.ID, u.State)
	switch {
	case u.Total > 0:
		s += fmt.Sprintf(" %s of %s (%d%%)", bytesize.Format(u.Done), bytesize.Format(u.Total), u.Done*100/u.Total)
	case u.Done > 0:
		s += " " + bytesize.Format(u.Done)
	}
	if u.Msg != "" {
		s += ": " + u.Msg
	}
	return s
}

// Package progress shows the progress of long tasks (downloads, copying
// files into an image, writing a device) to a person or a program. Callers
// translate their own events into [Update]s; this package knows nothing of
// where they come from.
//
// Modes: [Bars] draws one bar per task plus a total with speed and ETA
// (mpb) on a terminal; [Plain] prints a line on every state change and at
// most one progress line per task per Interval; [JSON] prints every update
// as one JSON object per line; [Quiet] prints nothing. [ModeFor] picks one.
// NO_COLOR (any value) turns colour off. A Renderer is safe for concurrent
// use; call Close once at the end.
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

// State of a task.
type State string

// States a task goes through; Skipped means there was nothing to do (cached).
const (
	Waiting  State = "waiting"
	Running  State = "running"
	Retrying State = "retrying"
	Done     State = "done"
	Skipped  State = "skipped"
	Failed   State = "failed"
)

func (s State) final() bool { return s == Done || s == Skipped || s == Failed }

// Update is the state of one task. Total 0 means unknown.
type Update struct {
	ID      string `json:"id"`
	Label   string `json:"label"`
	State   State  `json:"state"`
	Done    int64  `json:"done"`
	Total   int64  `json:"total"`
	Message string `json:"message,omitempty"`
}

// Mode selects the output style.
type Mode int

// Output styles.
const (
	Quiet Mode = iota
	Plain
	JSON
	Bars
)

// ModeFor picks Quiet, JSON, Bars (w is a terminal other than TERM=dumb)
// or Plain, in that order of precedence.
func ModeFor(w io.Writer, jsonOut, quiet bool) Mode {
	switch {
	case quiet:
		return Quiet
	case jsonOut:
		return JSON
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("TERM") != "dumb" {
		return Bars
	}
	return Plain
}

// Options tune a Renderer; zero values take defaults.
type Options struct {
	Interval time.Duration    // Plain: least time between progress lines of a task (default 2s)
	Now      func() time.Time // clock, for tests
}

// Renderer turns Updates into output.
type Renderer struct {
	mu    sync.Mutex
	w     io.Writer
	mode  Mode
	opts  Options
	last  map[string]time.Time
	bars  *bars
	color bool
}

// New makes a Renderer writing to w.
func New(w io.Writer, mode Mode, opts Options) *Renderer {
	if opts.Interval <= 0 {
		opts.Interval = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Renderer{w: w, mode: mode, opts: opts, last: map[string]time.Time{}}
	_, noColor := os.LookupEnv("NO_COLOR")
	r.color = !noColor
	if mode == Bars {
		r.bars = newBars(w, r.color)
	}
	return r
}

// Update reports the current state of one task.
func (r *Renderer) Update(u Update) {
	if u.Label == "" {
		u.Label = u.ID
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.mode {
	case JSON:
		b, _ := json.Marshal(u)
		fmt.Fprintf(r.w, "%s\n", b)
	case Plain:
		r.plain(u)
	case Bars:
		r.bars.update(u)
	}
}

// Close finishes the output (bars are drawn one last time).
func (r *Renderer) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bars != nil {
		r.bars.close()
		r.bars = nil
	}
}

func (r *Renderer) plain(u Update) {
	now := r.opts.Now()
	if u.State == Running {
		if t, ok := r.last[u.ID]; ok && now.Sub(t) < r.opts.Interval {
			return
		}
	}
	r.last[u.ID] = now
	line := fmt.Sprintf("%s: %s", u.Label, u.State)
	switch {
	case u.State == Running && u.Total > 0:
		line += fmt.Sprintf(" %s / %s (%d%%)", Size(u.Done), Size(u.Total), u.Done*100/u.Total)
	case u.State == Running || u.State == Done || u.State == Skipped:
		line += " " + Size(u.Done)
	}
	if u.Message != "" {
		line += ": " + u.Message
	}
	fmt.Fprintln(r.w, line)
}

// Size formats a byte count with binary units: "650.0 MiB".
func Size(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 4 {
		v /= 1024
		unit++
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"KiB", "MiB", "GiB", "TiB", "PiB"}[unit])
}

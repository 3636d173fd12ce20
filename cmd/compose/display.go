package main

import (
	"github.com/usbkit/compose/config/bytesize"
	"os"

	"github.com/usbkit/compose/cmd/compose/internal/progress"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/fetch"
	"golang.org/x/term"
)

// display adapts the libraries' progress events to the progress display.
type display struct {
	phase  string
	d      *progress.Display
	closed bool
	text   bool // lines or bars: names and messages are escaped (escape.go)
}

// update shows u; on a terminal or in plain lines a task's name and message
// are one line each, every control character in them escaped.
func (d *display) update(u progress.Update) {
	if d.text {
		u.ID, u.Msg = escapeAll(u.ID), escapeAll(u.Msg)
	}
	d.d.Update(u)
}

// display picks the mode from the output rules: nothing when quiet, JSON
// lines under --json, bars when stderr is a terminal, plain lines otherwise.
// Progress always goes to stderr, so stdout keeps only the result.
func (a *app) display(phase string) *display {
	mode := progress.Lines
	switch {
	case a.quiet:
		mode = progress.Off
	case a.json:
		mode = progress.JSON
	case isTerminal(a.stderr) && os.Getenv("TERM") != "dumb": // a dumb terminal cannot redraw
		mode = progress.Bars
	}
	return &display{phase: phase, d: progress.New(a.stderr, mode), text: mode != progress.JSON}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// close ends the display; a verb closes it before printing its result
// and again, harmlessly, on its way out.
func (d *display) close() {
	if !d.closed {
		d.closed = true
		d.d.Close()
	}
}

var fetchStates = map[fetch.EventKind]progress.State{
	fetch.Start: progress.Running, fetch.Progress: progress.Running, fetch.Retry: progress.Retrying,
	fetch.Done: progress.Done, fetch.Cached: progress.Done, fetch.Failed: progress.Failed,
	fetch.Wait: progress.Waiting,
}

func (d *display) fetchEvent(e fetch.Event) {
	u := progress.Update{Phase: d.phase, ID: e.Name, Done: e.Bytes, Total: e.Total, State: fetchStates[e.Kind], Cached: e.Kind == fetch.Cached}
	switch {
	case e.Kind == fetch.Cached:
		u.Msg = "already in the cache"
	case e.Msg != "":
		u.Msg = e.Msg
	case e.Kind == fetch.Failed:
		// The verb's error says why, once per ISO; the progress line
		// only marks the task failed.
	case e.Err != nil:
		u.Msg = e.Err.Error()
	}
	d.update(u)
}

var eventStates = map[compose.Status]progress.State{
	compose.Running: progress.Running, compose.Done: progress.Done,
	compose.Failed: progress.Failed, compose.Warning: progress.Warning,
}

// event shows compose's build and write events: the image is one task per
// phase, each device a task whose phase (write, verify) says what is
// happening to it.
func (d *display) event(e compose.Event) {
	d.update(progress.Update{Phase: string(e.Phase), ID: e.Task, Done: e.Done, Total: e.Total, State: eventStates[e.Status], Msg: e.Message})
}

func humanSize(n int64) string { return bytesize.Format(n) }

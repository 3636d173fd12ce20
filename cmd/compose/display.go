package main

import (
	"os"

	"github.com/usbkit/compose/cmd/compose/internal/progress"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/fetch"
	"golang.org/x/term"
)

// display adapts the libraries' progress events to the progress display.
type display struct {
	phase string
	d     *progress.Display
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
	case isTerminal(a.stderr):
		mode = progress.Bars
	}
	return &display{phase: phase, d: progress.New(a.stderr, mode)}
}

func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (d *display) close() { d.d.Close() }

var fetchStates = map[fetch.EventKind]progress.State{
	fetch.Start: progress.Running, fetch.Progress: progress.Running, fetch.Retry: progress.Retrying,
	fetch.Done: progress.Done, fetch.Cached: progress.Done, fetch.Failed: progress.Failed,
}

func (d *display) fetchEvent(e fetch.Event) {
	u := progress.Update{Phase: d.phase, ID: e.Name, Done: e.Bytes, Total: e.Total, State: fetchStates[e.Kind]}
	switch {
	case e.Kind == fetch.Cached:
		u.Msg = "already in the cache"
	case e.Err != nil:
		u.Msg = e.Err.Error()
	}
	d.d.Update(u)
}

// imageEvent reports placing and verifying as one task per phase: an image
// has a dozen small boot files and a few large ISOs, and only the bytes of
// the whole phase tell the user how long is left.
func (d *display) imageEvent(e disk.Event) {
	u := progress.Update{Phase: e.Kind.String(), ID: "files", Done: e.AllDone, Total: e.AllTotal, State: progress.Running}
	if e.AllTotal > 0 && e.AllDone >= e.AllTotal {
		u.State = progress.Done
	}
	d.d.Update(u)
}

func humanSize(n int64) string { return progress.Size(n) }

// deviceEvent shows one device's write: each device is a task whose phase
// (write, verify) says what is happening to it.
func (d *display) deviceEvent(e device.Event) {
	u := progress.Update{Phase: string(e.Phase), ID: e.Device, Done: e.Done, Total: e.Total, State: progress.Running, Msg: e.Message}
	switch e.Phase {
	case device.PhaseDone:
		u.Phase, u.State = "write", progress.Done
	case device.PhaseFailed:
		u.Phase, u.State = "write", progress.Failed
		if e.Err != nil {
			u.Msg = e.Err.Error()
		}
	case device.PhaseOpen, device.PhaseSync, device.PhaseWarning:
		u.Phase = "write"
	}
	d.d.Update(u)
}

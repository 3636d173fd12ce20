package compose

import "github.com/usbkit/compose/compose/disk"

// Phase names the step an Event reports.
type Phase string

// Phases of building an image and writing devices.
const (
	PhasePlace  Phase = "place"  // files copied into the image
	PhaseVerify Phase = "verify" // the image, or a device, read back
	PhaseWrite  Phase = "write"  // the image written to a device
)

// Status is where the task an Event reports stands.
type Status string

// Statuses.
const (
	Running Status = "running"
	Done    Status = "done"
	Failed  Status = "failed"
	Warning Status = "warning" // Message says what; the task goes on
)

// Event reports progress of Apply: building the image (Task "files") and
// writing each device (Task is its path). Done and Total count bytes.
type Event struct {
	Phase   Phase
	Task    string
	Done    int64
	Total   int64
	Status  Status
	Message string
}

// imageEvents adapts the image builder's events: one task per phase, whose
// bytes are the phase's (an image has a dozen small boot files and a few
// large ISOs; only the whole phase tells how long is left).
func imageEvents(progress func(Event)) func(disk.Event) {
	if progress == nil {
		return nil
	}
	return func(e disk.Event) {
		ev := Event{Phase: PhasePlace, Task: "files", Done: e.AllDone, Total: e.AllTotal, Status: Running}
		if e.Kind == disk.EventVerify {
			ev.Phase = PhaseVerify
		}
		if e.AllTotal > 0 && e.AllDone >= e.AllTotal {
			ev.Status = Done
		}
		progress(ev)
	}
}

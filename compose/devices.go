package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/config/plural"
)

// ErrWriteFailed is returned by Apply when a device did not end up
// complete: the stick holds part of the kit and must not be used.
var ErrWriteFailed = errors.New("writing a device failed")

// Stick is a device the kit is about to be written to, as shown to the
// user who confirms the write.
type Stick struct {
	Path       string           `json:"path"`
	Size       int64            `json:"size"`
	Bus        string           `json:"bus"`
	Model      string           `json:"model"`
	Partitions []StickPartition `json:"partitions,omitempty"`
}

// StickPartition is a partition whose contents the write destroys.
type StickPartition struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	FSType string `json:"fstype,omitempty"`
	Label  string `json:"label,omitempty"`
}

// DeviceResult is the outcome for one device.
type DeviceResult struct {
	Device   string `json:"device"`
	Complete bool   `json:"complete"` // written, flushed and (unless NoVerify) read back
	Written  int64  `json:"bytes_written"`
	Verified bool   `json:"verified"`
	SHA256   string `json:"sha256,omitempty"`
	// Touched is false when the device was refused or failed before its
	// first byte was written: it still holds what it held.
	Touched bool `json:"touched"`
	// Incremental is true when the device's kit was changed in place;
	// Changes are then what changed (none: it already held the kit).
	Incremental bool              `json:"incremental,omitempty"`
	Changes     []converge.Change `json:"changes,omitempty"`
	// Steps is how many commits the in-place change made (Result.Steps).
	Steps    int      `json:"steps,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
	Error    string   `json:"error,omitempty"`
	// ISOCheck and Verification are the in-place apply's (Result's).
	ISOCheck     string                 `json:"iso_check,omitempty"`
	Verification *converge.Verification `json:"verification,omitempty"`

	err error
}

// checkDevices looks every target up and refuses, before anything is
// built or written, any that is unsafe or too small for size bytes, and any
// named twice (the same disk through two paths included).
func checkDevices(paths []string, size int64, force bool) ([]device.Device, error) {
	var devs []device.Device
	var errs []error
	seen := map[[2]uint32]string{}
	for _, p := range paths {
		d, err := device.Lookup(device.HostRoot(), p)
		if err == nil {
			err = device.Check(d, size, device.CheckOptions{Force: force})
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		num := [2]uint32{d.Major, d.Minor}
		if first, dup := seen[num]; dup {
			errs = append(errs, fmt.Errorf("%s is named twice (also as %s): %w", p, first, ErrDuplicateDevice))
			continue
		}
		seen[num] = p
		devs = append(devs, d)
	}
	return devs, errors.Join(errs...)
}

// ErrDuplicateDevice is returned when one disk is named twice: a usage
// mistake, not an unsafe target.
var ErrDuplicateDevice = errors.New("give each device once")

func sticks(devs []device.Device) []Stick {
	out := make([]Stick, len(devs))
	for i, d := range devs {
		out[i] = Stick{Path: d.Path, Size: d.Size, Bus: string(d.Bus), Model: joinWords(d.Vendor, d.Model)}
		for _, p := range d.Partitions {
			out[i].Partitions = append(out[i].Partitions, StickPartition{Path: p.Path, Size: p.Size, FSType: p.FSType, Label: p.Label})
		}
	}
	return out
}

func joinWords(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// deviceWrite is how writeDevices writes: the Kit's options and the files
// streamed from their sources (see device.File).
type deviceWrite struct {
	force, noVerify bool
	progress        func(Event)
	files           []device.File
	zeros           []device.Extent
	image           *os.File // the built image, open (nil: read it by its path)
}

// writeDevices writes img to every device at once. The error says what the
// user must know: a device left incomplete (ErrWriteFailed), or devices
// refused when opened, before any byte was written (ErrUnsafeTarget, for
// example one mounted while the kit was built).
// resultText is an error as a result's words (DeviceResult.Error, which
// the JSON results carry beside the error object): Ctrl-C reads
// "interrupted", not Go's "context canceled".
func resultText(err error) string {
	if errors.Is(err, context.Canceled) {
		return strings.ReplaceAll(err.Error(), context.Canceled.Error(), "interrupted")
	}
	return err.Error()
}

func writeDevices(ctx context.Context, img string, devs []device.Device, w deviceWrite) ([]DeviceResult, error) {
	paths := make([]string, len(devs))
	for i, d := range devs {
		paths[i] = d.Path
	}
	opts := device.WriteOptions{Check: device.CheckOptions{Force: w.force}, NoVerify: w.noVerify, Files: w.files, Zeros: w.zeros,
		Checked: devs, Image: w.image}
	res := device.Write(ctx, img, paths, opts, deviceEvents(w.progress))
	out := make([]DeviceResult, len(res))
	var incomplete, refused []error
	var bad *device.SourceError
	for i, r := range res {
		errors.As(r.Err, &bad)
		out[i] = DeviceResult{Device: r.Device, Complete: r.Complete, Written: r.Written, Verified: r.Verified,
			SHA256: r.SHA256, Warnings: r.Warnings, err: r.Err}
		out[i].Touched = r.Written > 0 || errors.Is(r.Err, device.ErrIncomplete)
		if r.Complete {
			continue
		}
		if r.Err == nil {
			r.Err = errors.New("not complete")
		}
		out[i].Error = resultText(r.Err)
		if out[i].Touched {
			incomplete = append(incomplete, r.Err)
		} else {
			refused = append(refused, r.Err)
		}
	}
	switch {
	case bad != nil:
		return out, fmt.Errorf("%w: %w", ErrWriteFailed, bad)
	case ctx.Err() != nil && len(incomplete) > 0:
		return out, fmt.Errorf("stopped: the sticks are incomplete and must not be used: %w", ctx.Err())
	case ctx.Err() != nil:
		return out, fmt.Errorf("stopped before writing: %w", ctx.Err())
	case len(incomplete) > 0:
		return out, ErrWriteFailed
	case len(refused) > 0:
		return out, nothingWritten(refused, len(res))
	}
	return out, nil
}

// nothingWritten says that devices refused, of n, were left untouched.
func nothingWritten(refused []error, n int) error {
	return fmt.Errorf("nothing was written to %d of %s: %w", len(refused), plural.Count(n, "device"), errors.Join(refused...))
}

var devicePhases = map[device.Phase]Phase{
	device.PhaseOpen: PhaseWrite, device.PhaseWrite: PhaseWrite, device.PhaseSync: PhaseWrite,
	device.PhaseVerify: PhaseVerify, device.PhaseDone: PhaseWrite, device.PhaseFailed: PhaseWrite,
	device.PhaseWarning: PhaseWrite,
}

func deviceEvents(progress func(Event)) func(device.Event) {
	if progress == nil {
		return nil
	}
	return func(e device.Event) {
		ev := Event{Phase: devicePhases[e.Phase], Task: e.Device, Done: e.Done, Total: e.Total, Status: Running, Message: e.Message}
		switch e.Phase {
		case device.PhaseDone:
			ev.Status = Done
		case device.PhaseWarning:
			ev.Status = Warning
		case device.PhaseFailed:
			ev.Status = Failed
			if e.Err != nil {
				ev.Message = e.Err.Error()
			}
		}
		progress(ev)
	}
}

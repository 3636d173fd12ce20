package compose

import (
	"errors"
	"testing"

	"github.com/usbkit/compose/compose/device"
)

// A device's warning reaches the CLI as a warning, not as progress: the
// write goes on, and its bytes are not reset to the zero the event carries.
func TestDeviceEventsWarning(t *testing.T) {
	var got []Event
	f := deviceEvents(func(e Event) { got = append(got, e) })
	f(device.Event{Device: "/dev/sdb", Phase: device.PhaseWarning, Message: "no flush"})
	if len(got) != 1 || got[0].Status != Warning || got[0].Phase != PhaseWrite || got[0].Message != "no flush" {
		t.Fatalf("got %+v, want one write warning", got)
	}
}

// Counts in compose's messages agree with their nouns (config/plural).
func TestMessagesPlural(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{nothingWritten([]error{errors.New("busy")}, 1).Error(), "nothing was written to 1 of 1 device: busy"},
		{nothingWritten([]error{errors.New("busy")}, 2).Error(), "nothing was written to 1 of 2 devices: busy"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

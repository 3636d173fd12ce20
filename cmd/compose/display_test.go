package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/fetch"
)

// The adapter hands the display what it needs to tell the truth: a cached
// ISO is marked so (it counts in no total), a failure without a byte count
// (Ctrl-C) keeps what had arrived, the place and verify tasks of one image
// are two tasks, and a device's warning is a line of its own.
func TestDisplayAdapterKeepsTheTruth(t *testing.T) {
	var buf bytes.Buffer
	a := newApp(nil, nil, &buf)
	d := a.display("fetch")
	d.fetchEvent(fetch.Event{Name: "alpha", Kind: fetch.Cached, Bytes: 4 << 20, Total: 4 << 20})
	d.fetchEvent(fetch.Event{Name: "beta", Kind: fetch.Start, Total: 8 << 20})
	d.fetchEvent(fetch.Event{Name: "beta", Kind: fetch.Progress, Bytes: 3 << 20, Total: 8 << 20})
	d.fetchEvent(fetch.Event{Name: "beta", Kind: fetch.Failed, Err: fmt.Errorf("fetching beta: %w", context.Canceled)})
	d.event(compose.Event{Phase: compose.PhasePlace, Task: "files", Done: 1, Total: 2, Status: compose.Running})
	d.event(compose.Event{Phase: compose.PhaseVerify, Task: "files", Done: 1, Total: 2, Status: compose.Running})
	d.event(compose.Event{Phase: compose.PhaseWrite, Task: "/dev/sdb", Done: 1, Total: 2, Status: compose.Running})
	d.event(compose.Event{Phase: compose.PhaseWrite, Task: "/dev/sdb", Status: compose.Warning, Message: "no\nflush"})
	d.close()
	want := "compose: fetch alpha: already in the cache (4 MiB)\n" +
		"compose: fetch beta: running 0 B of 8 MiB (0%)\n" +
		"compose: fetch beta: failed at 3 MiB of 8 MiB (37%)\n" +
		"compose: place files: running 1 B of 2 B (50%)\n" +
		"compose: verify files: running 1 B of 2 B (50%)\n" +
		"compose: write /dev/sdb: running 1 B of 2 B (50%)\n" +
		"compose: write /dev/sdb: no\\x0aflush\n" +
		"compose: place files: stopped at 1 B of 2 B (50%)\n" +
		"compose: verify files: stopped at 1 B of 2 B (50%)\n" +
		"compose: write /dev/sdb: stopped at 1 B of 2 B (50%)\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

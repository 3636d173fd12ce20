package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestPlain(t *testing.T) {
	var out bytes.Buffer
	c := &clock{t: time.Unix(0, 0)}
	r := New(&out, Plain, Options{Interval: time.Second, Now: c.now})
	r.Update(Update{ID: "debian", State: Running, Done: 0, Total: 4 << 20})
	c.t = c.t.Add(500 * time.Millisecond)
	r.Update(Update{ID: "debian", State: Running, Done: 1 << 20, Total: 4 << 20}) // too soon: dropped
	r.Update(Update{ID: "tools", Label: "tools.iso", State: Retrying, Done: 10, Message: "server answered 503"})
	c.t = c.t.Add(600 * time.Millisecond)
	r.Update(Update{ID: "debian", State: Running, Done: 2 << 20, Total: 4 << 20})
	r.Update(Update{ID: "debian", State: Done, Done: 4 << 20, Total: 4 << 20}) // state change: always shown
	r.Update(Update{ID: "tools", Label: "tools.iso", State: Failed, Message: "giving up"})
	r.Close()
	want := "debian: running 0 B / 4.0 MiB (0%)\n" +
		"tools.iso: retrying: server answered 503\n" +
		"debian: running 2.0 MiB / 4.0 MiB (50%)\n" +
		"debian: done 4.0 MiB\n" +
		"tools.iso: failed: giving up\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

func TestJSON(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, JSON, Options{})
	in := []Update{
		{ID: "a", Label: "debian", State: Running, Done: 5, Total: 10},
		{ID: "a", Label: "debian", State: Failed, Done: 5, Total: 10, Message: "checksum mismatch"},
	}
	for _, u := range in {
		r.Update(u)
	}
	r.Close()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != len(in) {
		t.Fatalf("want %d lines, got %q", len(in), out.String())
	}
	for i, l := range lines {
		var u Update
		if err := json.Unmarshal([]byte(l), &u); err != nil || u != in[i] {
			t.Errorf("line %d: %s decodes to %+v (%v), want %+v", i, l, u, err, in[i])
		}
	}
	if strings.Contains(lines[0], "message") {
		t.Errorf("empty message should be omitted: %s", lines[0])
	}
}

func TestQuietAndModeFor(t *testing.T) {
	var out bytes.Buffer
	r := New(&out, Quiet, Options{})
	r.Update(Update{ID: "a", State: Failed, Message: "x"})
	r.Close()
	if out.Len() != 0 {
		t.Errorf("quiet wrote %q", out.String())
	}
	if ModeFor(&out, false, false) != Plain || ModeFor(&out, true, false) != JSON || ModeFor(&out, true, true) != Quiet {
		t.Error("ModeFor picks the wrong mode for a non-terminal")
	}
}

func TestBarsDrawAndClose(t *testing.T) {
	t.Setenv("NO_COLOR", "1")
	var out bytes.Buffer
	r := New(&out, Bars, Options{})
	r.Update(Update{ID: "a", Label: "debian", State: Running, Done: 1 << 20, Total: 2 << 20})
	r.Update(Update{ID: "b", Label: "tools", State: Running, Done: 3})
	r.Update(Update{ID: "a", Label: "debian", State: Done, Done: 2 << 20, Total: 2 << 20})
	r.Update(Update{ID: "b", Label: "tools", State: Failed, Done: 3, Message: "404"})
	done := make(chan struct{})
	go func() { r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs")
	}
	s := out.String()
	for _, w := range []string{"debian", "tools", "failed: 404", "total", "2.0 MiB"} {
		if !strings.Contains(s, w) {
			t.Errorf("bar output lacks %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "\x1b[31m") {
		t.Error("colour despite NO_COLOR")
	}
}

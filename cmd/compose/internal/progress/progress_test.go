package progress

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// clocked returns a display whose clock the test moves.
func clocked(mode Mode) (*Display, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	d := newDisplay(&buf, mode, func() time.Time { return now }, 80)
	return d, &buf, &now
}

func TestLinesThrottleRunningButNotStateChanges(t *testing.T) {
	d, buf, now := clocked(Lines)
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Total: 4 << 20})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Done: 1 << 20, Total: 4 << 20})
	*now = now.Add(Interval)
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Done: 2 << 20, Total: 4 << 20})
	d.tick()
	d.tick() // at once again: nothing
	d.Update(Update{Phase: "fetch", ID: "debian", State: Retrying, Done: 2 << 20, Total: 4 << 20, Msg: "connection reset"})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Done, Done: 4 << 20, Total: 4 << 20})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Done, Done: 4 << 20, Total: 4 << 20})
	want := "compose: fetch debian: running 0 B of 4 MiB (0%)\n" +
		"compose: fetch debian: running 2 MiB of 4 MiB (50%), 204.8 KiB/s, ETA 10s\n" +
		"compose: fetch debian: retrying at 2 MiB of 4 MiB (50%): connection reset\n" +
		"compose: fetch debian: done 4 MiB of 4 MiB (100%) in 5s, 819.2 KiB/s\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf, want)
	}
}

func TestJSONLines(t *testing.T) {
	d, buf, _ := clocked(JSON)
	d.Update(Update{Phase: "place", ID: "/isos/a.iso", State: Running, Done: 1, Total: 2})
	d.Update(Update{Phase: "place", ID: "/isos/b.iso", State: Failed, Msg: "no space"})
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf)
	}
	var u Update
	if err := json.Unmarshal([]byte(lines[1]), &u); err != nil {
		t.Fatal(err)
	}
	if u.ID != "/isos/b.iso" || u.State != Failed || u.Msg != "no space" {
		t.Fatalf("decoded %+v", u)
	}
}

func TestOffPrintsNothing(t *testing.T) {
	d, buf, _ := clocked(Off)
	d.Update(Update{Phase: "fetch", ID: "x", State: Failed})
	d.Close()
	if buf.Len() != 0 {
		t.Fatalf("quiet display printed %q", buf)
	}
}

// A second retry, wait or warning says something new: JSON shows each,
// while a repeated done is dropped.
func TestJSONKeepsEveryRetry(t *testing.T) {
	d, buf, _ := clocked(JSON)
	d.Update(Update{Phase: "fetch", ID: "a", State: Retrying, Msg: "attempt 1"})
	d.Update(Update{Phase: "fetch", ID: "a", State: Retrying, Msg: "attempt 2"})
	d.Update(Update{Phase: "fetch", ID: "a", State: Done, Done: 1, Total: 1})
	d.Update(Update{Phase: "fetch", ID: "a", State: Done, Done: 1, Total: 1})
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("want 3 lines, got %d:\n%s", n, buf)
	}
}

// Off a terminal a stalled download still gets its line every Interval,
// from the ticker, and its speed falls to zero with the ETA unknown.
func TestLinesTickerShowsStall(t *testing.T) {
	d, buf, now := clocked(Lines)
	d.Update(Update{Phase: "fetch", ID: "a", State: Running, Total: 10 << 20})
	*now = now.Add(time.Second)
	d.Update(Update{Phase: "fetch", ID: "a", State: Running, Done: 1 << 20, Total: 10 << 20})
	*now = now.Add(4 * time.Second)
	d.tick()
	*now = now.Add(Interval)
	d.tick()
	want := "compose: fetch a: running 0 B of 10 MiB (0%)\n" +
		"compose: fetch a: running 1 MiB of 10 MiB (10%), 204.8 KiB/s, ETA 45s\n" +
		"compose: fetch a: running 1 MiB of 10 MiB (10%), 0 B/s, ETA ?\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf, want)
	}
}

// A size learnt after the start replaces the one (none) sent first, and
// bytes past a wrong size become the size instead of a percentage over 100.
func TestSizeFollowsTheEvents(t *testing.T) {
	d, buf, _ := clocked(Lines)
	d.Update(Update{Phase: "fetch", ID: "a", State: Running})
	d.Update(Update{Phase: "fetch", ID: "a", State: Running, Done: 1, Total: 2 << 20})
	d.Update(Update{Phase: "fetch", ID: "b", State: Running, Total: 1 << 20})
	d.Update(Update{Phase: "fetch", ID: "b", State: Done, Done: 3 << 20, Total: 1 << 20})
	d.Close()
	want := "compose: fetch a: running 0 B of ?\n" +
		"compose: fetch b: running 0 B of 1 MiB (0%)\n" +
		"compose: fetch b: done 3 MiB of 3 MiB (100%)\n" +
		"compose: fetch a: stopped at 1 B of 2 MiB (0%)\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf, want)
	}
}

// A warning (a device's) carries no bytes: it is a line, and the bar keeps
// what was written.
func TestWarningKeepsBytes(t *testing.T) {
	d, buf, _ := clocked(Lines)
	d.Update(Update{Phase: "write", ID: "/dev/sdb", State: Running, Done: 1 << 20, Total: 4 << 20})
	d.Update(Update{Phase: "write", ID: "/dev/sdb", State: Warning, Msg: "cache flush not supported"})
	d.Close()
	want := "compose: write /dev/sdb: running 1 MiB of 4 MiB (25%)\n" +
		"compose: write /dev/sdb: cache flush not supported\n" +
		"compose: write /dev/sdb: stopped at 1 MiB of 4 MiB (25%)\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf, want)
	}
}

// The ticker runs beside updates and stops at Close (run under -race).
func TestTickerAndClose(t *testing.T) {
	for _, mode := range []Mode{Bars, Lines, JSON, Off} {
		var buf safeBuffer
		d := New(&buf, mode)
		done := make(chan bool)
		go func() {
			for i := range 50 {
				d.Update(Update{Phase: "fetch", ID: "a", State: Running, Done: int64(i), Total: 100})
				time.Sleep(time.Millisecond)
			}
			done <- true
		}()
		<-done
		d.Close()
		d.Close()
		d.Update(Update{Phase: "fetch", ID: "a", State: Done, Done: 100, Total: 100}) // after Close: nothing
		if mode != Off && !strings.Contains(buf.String(), "fetch a") && !strings.Contains(buf.String(), `"id":"a"`) {
			t.Errorf("mode %d printed %q", mode, buf.String())
		}
		if strings.Contains(buf.String(), ": done") || strings.Contains(buf.String(), `"state":"done"`) {
			t.Errorf("mode %d printed an update after Close: %q", mode, buf.String())
		}
	}
}

type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A task waiting for another process's lock says so on its bar, with the
// message above it, and starts like any other once the wait ends.
func TestBarsWaiting(t *testing.T) {
	d, buf, now := clocked(Bars)
	d.Update(Update{Phase: "fetch", ID: "alpha", State: Waiting, Msg: "waiting for another compose (pid 42)"})
	d.tick()
	if !strings.Contains(buf.String(), "compose: fetch alpha: waiting for another compose (pid 42)\n") ||
		!regexp.MustCompile(`fetch alpha \[ +\]  0 B / \?  waiting`).MatchString(buf.String()) {
		t.Fatalf("waiting not shown:\n%s", buf)
	}
	buf.Reset()
	d.Update(Update{Phase: "fetch", ID: "alpha", State: Running, Done: 1 << 20, Total: 2 << 20})
	*now = now.Add(2 * time.Second)
	d.Update(Update{Phase: "fetch", ID: "alpha", State: Running, Done: 3 << 19, Total: 2 << 20})
	d.tick()
	if !strings.Contains(buf.String(), "1.5 MiB / 2 MiB  75%  256 KiB/s  ETA 2s") {
		t.Fatalf("after the wait:\n%s", buf)
	}
}

package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// clocked returns a display whose clock the test moves.
func clocked(mode Mode) (*Display, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	d := New(&buf, mode)
	now := time.Unix(0, 0)
	d.now = func() time.Time { return now }
	return d, &buf, &now
}

func TestLinesThrottleRunningButNotStateChanges(t *testing.T) {
	d, buf, now := clocked(Lines)
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Total: 4 << 20})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Done: 1 << 20, Total: 4 << 20})
	*now = now.Add(Interval)
	d.Update(Update{Phase: "fetch", ID: "debian", State: Running, Done: 2 << 20, Total: 4 << 20})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Retrying, Done: 2 << 20, Total: 4 << 20, Msg: "connection reset"})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Done, Done: 4 << 20, Total: 4 << 20})
	d.Update(Update{Phase: "fetch", ID: "debian", State: Done, Done: 4 << 20, Total: 4 << 20})
	want := "compose: fetch debian: running 0 B of 4 MiB (0%)\n" +
		"compose: fetch debian: running 2 MiB of 4 MiB (50%)\n" +
		"compose: fetch debian: retrying 2 MiB of 4 MiB (50%): connection reset\n" +
		"compose: fetch debian: done 4 MiB of 4 MiB (100%)\n"
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

func TestBarsDrawTotalWithSpeed(t *testing.T) {
	var buf bytes.Buffer
	d := New(&buf, Bars)
	d.Update(Update{Phase: "fetch", ID: "a", State: Running, Total: 2048})
	d.Update(Update{Phase: "fetch", ID: "b", State: Running, Total: 2048})
	d.Update(Update{Phase: "fetch", ID: "a", State: Done, Done: 2048, Total: 2048})
	d.Update(Update{Phase: "fetch", ID: "b", State: Done, Done: 2048, Total: 2048})
	d.Close()
	out := buf.String()
	for _, want := range []string{"fetch a", "fetch b", "total", "4.0 KiB / 4.0 KiB", "ETA"} {
		if !strings.Contains(out, want) {
			t.Errorf("bars output lacks %q:\n%s", want, out)
		}
	}
}

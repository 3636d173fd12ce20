package progress

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// replay drives a display in mode with a recorded stream (testdata/*.stream)
// on an injected clock: nothing sleeps, and a tick is a line of the stream.
func replay(t *testing.T, stream string, mode Mode) string {
	t.Helper()
	f, err := os.Open(stream)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	d := newDisplay(&buf, mode, func() time.Time { return now }, 100)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		at, rest, _ := strings.Cut(line, " ")
		secs, err := strconv.ParseFloat(at, 64)
		if err != nil {
			t.Fatalf("%s:%d: %v", stream, n, err)
		}
		now = time.Unix(0, 0).Add(time.Duration(secs * float64(time.Second)))
		switch rest {
		case "tick":
			d.tick()
		case "close":
			d.Close()
		default:
			d.Update(parseUpdate(t, fmt.Sprintf("%s:%d", stream, n), rest))
		}
	}
	return buf.String()
}

// parseUpdate reads "PHASE ID STATE DONE TOTAL [cached] [: MESSAGE]".
func parseUpdate(t *testing.T, where, s string) Update {
	s, msg, _ := strings.Cut(s, " : ")
	f := strings.Fields(s)
	if len(f) < 5 {
		t.Fatalf("%s: want PHASE ID STATE DONE TOTAL, got %q", where, s)
	}
	done, err1 := strconv.ParseInt(f[3], 10, 64)
	total, err2 := strconv.ParseInt(f[4], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: bad numbers in %q", where, s)
	}
	return Update{Phase: f[0], ID: f[1], State: State(f[2]), Done: done, Total: total, Msg: msg, Cached: len(f) > 5 && f[5] == "cached"}
}

// TestGolden replays each recorded stream on a terminal (escape sequences
// shown as \e) and off one, against testdata/NAME.{bars,lines}.
func TestGolden(t *testing.T) {
	streams, _ := filepath.Glob("testdata/*.stream")
	if len(streams) == 0 {
		t.Fatal("no streams")
	}
	for _, s := range streams {
		for ext, mode := range map[string]Mode{"bars": Bars, "lines": Lines} {
			golden := strings.TrimSuffix(s, ".stream") + "." + ext
			t.Run(filepath.Base(golden), func(t *testing.T) {
				got := strings.ReplaceAll(replay(t, s, mode), "\x1b", `\e`)
				if *update {
					if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatal(err)
				}
				if got != string(want) {
					t.Errorf("got\n%s\nwant\n%s", got, want)
				}
			})
		}
	}
}

// screen plays output on a terminal as tall as it needs (the sequences
// draw uses: \r, ESC[nA, ESC[2K, ESC[J, newline) and returns its lines.
func screen(t *testing.T, out string) []string {
	t.Helper()
	var lines []string
	row := 0
	seq := regexp.MustCompile(`^\x1b\[(\d*)([AKJ])`)
	for i := 0; i < len(out); {
		switch c := out[i]; {
		case c == '\x1b':
			m := seq.FindStringSubmatch(out[i:])
			if m == nil {
				t.Fatalf("unknown escape at %q", out[i:min(i+10, len(out))])
			}
			switch m[2] {
			case "A":
				n, _ := strconv.Atoi(m[1])
				row -= n
			case "K":
				if row < len(lines) {
					lines[row] = ""
				}
			case "J":
				lines = lines[:min(row, len(lines))]
			}
			i += len(m[0])
		case c == '\r':
			i++
		case c == '\n':
			row++
			i++
		default:
			j := i + strings.IndexAny(out[i:]+"\n", "\x1b\r\n")
			for len(lines) <= row {
				lines = append(lines, "")
			}
			lines[row] += out[i:j]
			i = j
		}
	}
	return lines
}

// TestBarsScreen checks what stays on the terminal after each stream: one
// line per task and no bar drawn twice; the cached item leaves the total
// alone; after the interrupt both downloads show what had arrived.
func TestBarsScreen(t *testing.T) {
	for stream, want := range map[string][]string{
		"testdata/apply.stream": {
			"compose: fetch alpha: already in the cache (4 MiB)",
			"compose: fetch beta: retrying at 3 MiB of 8 MiB (37%): attempt 1: connection reset by peer",
			"compose: fetch gamma: done 6 MiB of 6 MiB (100%) in 6s, 1 MiB/s",
			"compose: fetch beta: done 8 MiB of 8 MiB (100%) in 8s, 896 KiB/s",
			"compose: place files: done 18 MiB of 18 MiB (100%) in 2s, 9 MiB/s",
			"compose: verify files: done 18 MiB of 18 MiB (100%) in 1s, 18 MiB/s",
		},
		"testdata/interrupt.stream": {
			"compose: fetch beta: failed at 32 MiB of 94.4 MiB (33%)",
			"compose: fetch gamma: stopped at 1 MiB of 6 MiB (16%)",
		},
		// recorded: the .partial files held 9437184 and 4587520 bytes
		"testdata/fetch-interrupt.stream": {
			"compose: fetch ipxe: already in the cache (2 MiB)",
			"compose: fetch beta: retrying at 3 MiB of 11.4 MiB (26%): unexpected EOF",
			"compose: fetch alpha: failed at 9 MiB of 19.1 MiB (47%)",
			"compose: fetch beta: failed at 4.4 MiB of 11.4 MiB (38%)",
		},
		"testdata/lock-recorded.stream": {
			"compose: lock ipxe: done 2 MiB of 2 MiB (100%) in 1s, 2 MiB/s",
			"compose: lock beta: done 11.4 MiB of 11.4 MiB (100%) in 6s, 1.9 MiB/s",
			"compose: lock alpha: done 19.1 MiB of 19.1 MiB (100%) in 10s, 1.9 MiB/s",
		},
		"testdata/apply-recorded.stream": {
			"compose: fetch beta: retrying at 3 MiB of 14.7 MiB (20%): unexpected EOF",
			"compose: fetch alpha: done 14.7 MiB of 14.7 MiB (100%) in 8s, 1.9 MiB/s",
			"compose: fetch beta: done 14.7 MiB of 14.7 MiB (100%) in 10s, 1.5 MiB/s",
			"compose: place files: done 33.7 MiB of 33.7 MiB (100%)",
			"compose: verify files: done 33.7 MiB of 33.7 MiB (100%)",
		},
	} {
		got := screen(t, replay(t, stream, Bars))
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: screen\n%s\nwant\n%s", stream, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestNeverOverrun checks every frame and line of every stream: no
// percentage above 100, no negative ETA or speed, and the fetch total of
// the apply stream never counting the cached alpha.
func TestNeverOverrun(t *testing.T) {
	streams, _ := filepath.Glob("testdata/*.stream")
	pct := regexp.MustCompile(`(\d+)%`)
	for _, s := range streams {
		for _, mode := range []Mode{Bars, Lines} {
			out := replay(t, s, mode)
			for _, m := range pct.FindAllStringSubmatch(out, -1) {
				if n, _ := strconv.Atoi(m[1]); n > 100 {
					t.Errorf("%s: percentage %s%% in\n%s", s, m[1], out)
				}
			}
			if regexp.MustCompile(` -\d`).MatchString(out) { // "ETA -4s", "-1 B/s"
				t.Errorf("%s: a negative number in\n%s", s, out)
			}
		}
	}
	out := replay(t, "testdata/apply.stream", Bars)
	// beta and gamma: 7 MiB to move (beta's 1 MiB prefix was there) + 6 MiB.
	if !strings.Contains(out, "fetch total [") || !strings.Contains(out, " / 13 MiB ") {
		t.Errorf("the fetch total is not 13 MiB (beta's 7 MiB left + gamma's 6 MiB):\n%s", out)
	}
}

// On a narrow terminal a bar is cut to fit (a wrapped bar could not be
// redrawn in place), while a line above the bars is printed whole.
func TestBarsNarrowTerminal(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	d := newDisplay(&buf, Bars, func() time.Time { return now }, 40)
	msg := "attempt 1: read tcp 127.0.0.1:40000->127.0.0.1:8080: connection reset by peer"
	d.Update(Update{Phase: "fetch", ID: "debian-live-12.8.0-amd64-standard", State: Running, Total: 1 << 30})
	d.tick()
	d.Update(Update{Phase: "fetch", ID: "debian-live-12.8.0-amd64-standard", State: Retrying, Msg: msg})
	d.tick()
	d.Close()
	out := buf.String()
	if !strings.Contains(out, msg+"\n") {
		t.Errorf("the retry line was cut:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		l = regexp.MustCompile(`\x1b\[\d*[AKJ]|\r`).ReplaceAllString(l, "")
		if strings.Contains(l, "[") && utf8.RuneCountInString(l) >= 40 {
			t.Errorf("bar %q is %d columns on a 40-column terminal", l, utf8.RuneCountInString(l))
		}
	}
}

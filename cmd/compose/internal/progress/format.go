package progress

import (
	"fmt"
	"strings"
	"time"

	"github.com/usbkit/compose/config/bytesize"
)

func (t *task) name() string { return t.phase + " " + t.id }

// amount is "2 MiB of 4 MiB (50%)", or "2 MiB of ?" while the size is unknown.
func amount(done, size int64) string {
	if size <= 0 {
		return bytesize.Format(done) + " of ?"
	}
	return fmt.Sprintf("%s of %s (%d%%)", bytesize.Format(done), bytesize.Format(size), percent(done, size))
}

func percent(done, size int64) int64 {
	if size <= 0 {
		return 0
	}
	return min(max(done, 0)*100/size, 100)
}

func rate(speed float64) string {
	if speed < 0 {
		return "?/s"
	}
	return bytesize.Format(int64(speed+0.5)) + "/s"
}

// clock is a duration in whole seconds: "45s", "3m07s", "1h02m", or "?".
func clock(d time.Duration) string {
	if d < 0 {
		return "?"
	}
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s >= 3600:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	case s >= 60:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%ds", s)
}

// progressLine is a running task's line: amount, rate and ETA.
func (t *task) progressLine(now time.Time) string {
	v := t.speed(now)
	return fmt.Sprintf("%s: running %s, %s, ETA %s", t.name(), amount(t.done, t.size), rate(v), clock(eta(t.size-t.done, v, t.size > 0)))
}

// startLine says a task began, and with how much already there.
func (t *task) startLine() string {
	return fmt.Sprintf("%s: running %s", t.name(), amount(t.done, t.size))
}

// doneLine says how much this run moved, and how fast on average.
func (t *task) doneLine() string {
	s := fmt.Sprintf("%s: done %s", t.name(), amount(t.done, t.size))
	if el := t.ended.Sub(t.started); el >= time.Second && t.moved() > 0 {
		s += fmt.Sprintf(" in %s, %s", clock(el), rate(float64(t.moved())/el.Seconds()))
	}
	return s
}

func (t *task) cachedLine() string {
	return fmt.Sprintf("%s: already in the cache (%s)", t.name(), bytesize.Format(t.done))
}

func (t *task) failedLine(msg string) string {
	s := fmt.Sprintf("%s: failed at %s", t.name(), amount(t.done, t.size))
	if msg != "" {
		s += ": " + msg
	}
	return s
}

func (t *task) stoppedLine() string {
	return fmt.Sprintf("%s: stopped at %s", t.name(), amount(t.done, t.size))
}

// noteLine announces a retry, a wait or a warning.
func (t *task) noteLine(u Update) string {
	switch {
	case u.State == Retrying && u.Msg != "":
		return fmt.Sprintf("%s: retrying at %s: %s", t.name(), amount(t.done, t.size), u.Msg)
	case u.State == Retrying:
		return fmt.Sprintf("%s: retrying at %s", t.name(), amount(t.done, t.size))
	case u.Msg != "":
		return fmt.Sprintf("%s: %s", t.name(), u.Msg)
	}
	return fmt.Sprintf("%s: %s", t.name(), u.State)
}

// count is "1 of 3 done", and how many failed.
func (s total) count() string {
	c := fmt.Sprintf("%d of %d done", s.finished-s.failed, s.tasks)
	if s.failed > 0 {
		c += fmt.Sprintf(", %d failed", s.failed)
	}
	return c
}

// line is a phase's total: "fetch total: 1 of 3 done, 2 MiB of 6 MiB (33%), 1 MiB/s, ETA 4s".
func (s total) line() string {
	size := s.todo
	if !s.sized {
		size = 0
	}
	return fmt.Sprintf("%s total: %s, %s, %s, ETA %s", s.phase, s.count(),
		amount(s.moved, size), rate(s.speed), clock(eta(s.todo-s.moved, s.speed, s.sized)))
}

// bar is a running task's bar on a terminal, at most width columns.
func (t *task) bar(label string, now time.Time, width int) string {
	v := t.speed(now)
	tail := rate(v) + "  ETA " + clock(eta(t.size-t.done, v, t.size > 0))
	if t.state == Retrying || t.state == Waiting {
		tail = string(t.state)
	}
	return fit(fmt.Sprintf("%s %s  %s  %s", label, meter(t.done, t.size), sizes(t.done, t.size), tail), width)
}

func (s total) bar(label string, width int) string {
	size := s.todo
	if !s.sized {
		size = 0
	}
	tail := fmt.Sprintf("%s  %s  ETA %s", s.count(), rate(s.speed), clock(eta(s.todo-s.moved, s.speed, s.sized)))
	return fit(fmt.Sprintf("%s %s  %s  %s", label, meter(s.moved, size), sizes(s.moved, size), tail), width)
}

func sizes(done, size int64) string {
	if size <= 0 {
		return bytesize.Format(done) + " / ?"
	}
	return fmt.Sprintf("%s / %s %3d%%", bytesize.Format(done), bytesize.Format(size), percent(done, size))
}

const meterWidth = 20

// meter is "[=====>    ]"; blank while the size is unknown.
func meter(done, size int64) string {
	if size <= 0 {
		return "[" + strings.Repeat(" ", meterWidth) + "]"
	}
	n := int(percent(done, size) * meterWidth / 100)
	if n == meterWidth {
		return "[" + strings.Repeat("=", n) + "]"
	}
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", meterWidth-n-1) + "]"
}

// fit cuts s to width-1 columns, so a line never wraps and the bars can
// be redrawn in place. Names are escaped (no control characters); a wide
// rune may still take two columns, which the spare column absorbs once.
func fit(s string, width int) string {
	r := []rune(s)
	if len(r) < width {
		return s
	}
	return string(r[:width-2]) + "…"
}

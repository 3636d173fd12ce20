package progress

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// draw replaces the live area on the terminal: the lines waiting to go
// above it first (they stay), then a bar for each running task, grouped by
// phase, with the phase's total under its bars. Every line ends in a
// newline, so the cursor rests below the area and moving up by its height
// reaches its top again.
func (d *Display) draw() {
	live := d.live()
	if d.drawn == 0 && len(d.above) == 0 && len(live) == 0 {
		return
	}
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\r\x1b[%dA", d.drawn)
	}
	for _, s := range d.above { // whole, even if it wraps: it stays, and the bars are drawn below it
		b.WriteString("\x1b[2Kcompose: " + s + "\n")
	}
	d.above = d.above[:0]
	for _, s := range live {
		b.WriteString("\x1b[2K" + s + "\n")
	}
	b.WriteString("\x1b[J") // what is left of a taller area before
	d.drawn = len(live)
	fmt.Fprint(d.w, b.String())
}

// live is the bars of the running tasks and their phases' totals.
func (d *Display) live() []string {
	if d.closed {
		return nil
	}
	now := d.now()
	width := 0
	for _, t := range d.board.tasks {
		if !t.finished() {
			width = max(width, utf8.RuneCountInString(t.name()), utf8.RuneCountInString(t.phase+" total"))
		}
	}
	width = min(width, d.width/3)
	var out []string
	for _, ph := range d.board.phases {
		for _, t := range d.board.tasks {
			if t.phase == ph && !t.finished() {
				out = append(out, t.bar(pad(t.name(), width), now, d.width))
			}
		}
		if tot, ok := d.board.total(ph, now); ok {
			out = append(out, tot.bar(pad(ph+" total", width), d.width))
		}
	}
	return out
}

// pad cuts or pads s to n columns.
func pad(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:max(n-1, 0)]) + "…"
	}
	return s + strings.Repeat(" ", n-len(r))
}

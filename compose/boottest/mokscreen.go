package boottest

import (
	"bytes"
	"strconv"
	"strings"
)

// A mokScreen is what the driver reads of MokManager's newest menu: the items of the last
// complete box and which of them is highlighted (-1 when the colours that tell were lost).
type mokScreen struct {
	items []string
	sel   int
}

// segment is a run of text the console printed at one cursor position, with the
// background colour in force when it began.
type segment struct {
	text string
	bg   string
}

// segments splits console output at cursor moves, line breaks and stray ESCs (a
// sequence whose bytes the UART lost still separated two screen lines), tracking the
// background colour that SGR sequences set: MokManager draws the highlighted item on
// another background than the rest of the box, borders included.
//
// bg is the background in force where b starts; segments also returns the one in force
// where it ends, for the output that follows.
func segments(b []byte, bg string) ([]segment, string) {
	var out []segment
	var cur bytes.Buffer
	curBG := ""
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, segment{text: cur.String(), bg: curBG})
			cur.Reset()
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0x1b && i+1 < len(b) && b[i+1] == '[':
			j := i + 2
			for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == ';' || b[j] == '?' || b[j] == '=') {
				j++
			}
			if j == len(b) {
				i = j
				continue
			}
			switch b[j] {
			case 'm':
				for _, p := range strings.Split(string(b[i+2:j]), ";") {
					if n, err := strconv.Atoi(p); err == nil && (n == 0 || n >= 40 && n <= 47) {
						bg = p
					}
				}
			case 'H', 'f', 'J':
				flush()
			}
			i = j
		case c == 0x1b || c == '\n':
			flush()
		case c == '\r':
		default:
			if cur.Len() == 0 {
				curBG = bg
			}
			cur.WriteByte(c)
		}
	}
	flush()
	return out, bg
}

// readMokScreen finds the last complete box in console output: lines between a top and a
// bottom border, framed by vertical bars. OVMF sends code page 437 line drawing (0xDA
// 0xC0 0xB3) or, after some screens, ASCII ('+' corners, '|' bars).
//
// bg is the background in force where b starts (see segments).
func readMokScreen(b []byte, bg string) mokScreen {
	var items, cur []segment
	normal := "" // the background of the last box's bottom border: items not highlighted
	in := false
	segs, _ := segments(b, bg)
	for _, s := range segs {
		t := strings.TrimSpace(s.text)
		switch {
		case strings.HasPrefix(t, "\xda") || (!in && strings.HasPrefix(t, "+-")):
			in, cur = true, nil
		case in && (strings.HasPrefix(t, "\xc0") || strings.HasPrefix(t, "+-")):
			in, items, normal = false, cur, s.bg
		case in && (strings.HasPrefix(t, "\xb3") || strings.HasPrefix(t, "|")) && len(t) > 2:
			if it := strings.TrimSpace(strings.Trim(t, "\xb3|")); it != "" {
				cur = append(cur, segment{text: it, bg: s.bg})
			}
		}
	}
	scr := mokScreen{sel: -1}
	var other []int
	for i, it := range items {
		scr.items = append(scr.items, it.text)
		if it.bg != normal {
			other = append(other, i)
		}
	}
	switch {
	case len(items) == 1:
		scr.sel = 0
	case len(other) == 1 && normal != "" && items[other[0]].bg != "":
		scr.sel = other[0]
	}
	return scr
}

// index is the position of the first item that want accepts, or -1.
func (s mokScreen) index(want func(string) bool) int {
	for i, it := range s.items {
		if want(it) {
			return i
		}
	}
	return -1
}

func (s mokScreen) has(item string) bool { return s.index(is(item)) >= 0 }

func is(item string) func(string) bool {
	return func(s string) bool { return strings.EqualFold(s, item) }
}

// boxItems returns the items of the last complete box in text (see readMokScreen).
func boxItems(text string) []string { return readMokScreen([]byte(text), "").items }

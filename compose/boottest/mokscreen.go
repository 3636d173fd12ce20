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
// another background than the rest.
func segments(b []byte) []segment {
	var out []segment
	var cur bytes.Buffer
	bg, curBG := "", ""
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
	return out
}

// readMokScreen finds the last complete box in console output: lines between a top and a
// bottom border, framed by vertical bars. OVMF sends code page 437 line drawing (0xDA
// 0xC0 0xB3) or, after some screens, ASCII ('+' corners, '|' bars).
func readMokScreen(b []byte) mokScreen {
	var items, cur []segment
	in := false
	for _, s := range segments(b) {
		t := strings.TrimSpace(s.text)
		switch {
		case strings.HasPrefix(t, "\xda") || (!in && strings.HasPrefix(t, "+-")):
			in, cur = true, nil
		case in && (strings.HasPrefix(t, "\xc0") || strings.HasPrefix(t, "+-")):
			in, items = false, cur
		case in && (strings.HasPrefix(t, "\xb3") || strings.HasPrefix(t, "|")) && len(t) > 2:
			if it := strings.TrimSpace(strings.Trim(t, "\xb3|")); it != "" {
				cur = append(cur, segment{text: it, bg: s.bg})
			}
		}
	}
	scr := mokScreen{sel: -1}
	count := map[string]int{}
	for _, it := range items {
		scr.items = append(scr.items, it.text)
		count[it.bg]++
	}
	for i, it := range items {
		if len(items) == 1 || (count[it.bg] == 1 && len(count) == 2) {
			scr.sel = i
		}
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
func boxItems(text string) []string { return readMokScreen([]byte(text)).items }

package main

import (
	"fmt"
	"io"
	"strings"
)

// Text from ISOs and manifests (labels, paths, titles, error messages
// quoting them) can carry control characters; an ESC sequence printed raw
// drives the user's terminal. Every human-readable line compose prints goes
// through escapeText (or the escaper writer): C0 and C1 controls and DEL
// become \xNN; newline and tab stay, they are the layout. JSON output is
// escaped by encoding/json.

// escapeText returns s with control characters other than \n and \t escaped.
func escapeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\n' || c == '\t':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f: // C1 control, UTF-8
			fmt.Fprintf(&b, `\u%04x`, s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f) {
			return true
		}
	}
	return false
}

// escaper is the writer every text renderer gets (app.result).
type escaper struct{ w io.Writer }

func (e escaper) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, escapeText(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

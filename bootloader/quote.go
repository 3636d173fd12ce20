package bootloader

import "strings"

// quote makes s one literal word of GRUB script: single quotes keep everything literal
// ($, ;, {, }, #, newlines), and a single quote inside is closed, escaped and reopened as in
// sh ('it'\”s'). Control characters are replaced by spaces first: GRUB reads its config
// line by line, and no title, path or argument needs them.
func quote(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

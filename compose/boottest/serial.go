package boottest

import (
	"bytes"
	"regexp"
)

// stripper removes terminal control sequences and carriage returns from a
// serial stream, chunk by chunk, so patterns match the text a person reads.
// GRUB's menu and OVMF's console are drawn with vt100 cursor movements.
// With moves set, a cursor positioning (ESC [ row;col H) ends the line: a
// payload that draws a screen (memtest86+ through OVMF's console) never
// sends a newline, and what it draws at one place is a line of its own.
type stripper struct {
	state int
	moves bool
}

const (
	stText = iota
	stEsc  // after ESC
	stCSI  // inside ESC [ … final byte
)

func (s *stripper) strip(in []byte) []byte {
	out := make([]byte, 0, len(in))
	for _, c := range in {
		switch s.state {
		case stEsc:
			s.state = stText
			if c == '[' {
				s.state = stCSI
			}
		case stCSI:
			if c >= 0x40 && c <= 0x7e {
				s.state = stText
				if s.moves && (c == 'H' || c == 'f') {
					out = append(out, '\n')
				}
			}
		default:
			switch {
			case c == 0x1b:
				s.state = stEsc
			case c == '\n' || c == '\t' || c >= 0x20:
				out = append(out, c)
			}
		}
	}
	return out
}

// lineFeed splits stripped text into lines. Complete lines come out once;
// the unfinished tail is offered too (a login prompt has no newline), so a
// watcher may see the same tail several times as it grows.
type lineFeed struct{ tail []byte }

// push adds text and calls fn for every complete line, then once for the
// tail (partial=true) when there is one.
func (l *lineFeed) push(text []byte, fn func(line string, partial bool)) {
	l.tail = append(l.tail, text...)
	for {
		i := bytes.IndexByte(l.tail, '\n')
		if i < 0 {
			break
		}
		fn(string(l.tail[:i]), false)
		l.tail = l.tail[i+1:]
	}
	if len(l.tail) > 4096 { // a runaway line without newline: keep the end
		l.tail = l.tail[len(l.tail)-4096:]
	}
	if len(l.tail) > 0 {
		fn(string(l.tail), true)
	}
}

// Patterns GRUB, firmware and Linux print; matched against stripped lines.
var (
	// GRUB's menu footer; with terminfo the arrows are drawn as ^ and v.
	reMenu = regexp.MustCompile(`Use the .{1,16} keys to select which entry is highlighted|Press enter to boot the selected OS`)
	// GRUB names the entry it runs: "Booting `title'".
	reBooting = regexp.MustCompile("Booting `(.*)'")
	// GRUB marks the selected entry with '*' on a text terminal; titles
	// end where the padding to the menu's right border starts.
	reHighlight = regexp.MustCompile(`\*(\S.*?)(?:\s{2,}|$)`)
	reKernel    = regexp.MustCompile(`Linux version [0-9]`)
	// OVMF/AAVMF's boot manager; SeaBIOS prints nothing on serial.
	reFirmware = regexp.MustCompile(`BdsDxe:|UEFI firmware|SeaBIOS`)
)

// fatal is a serial line that ends a boot: its pattern, the reason, and the
// phase after which it no longer counts (a kernel may print "error: ").
type fatal struct {
	re     *regexp.Regexp
	reason Reason
	until  Milestone // the pattern is fatal while Reached < until
}

// reBenign are GRUB errors after which GRUB goes on booting: the linux
// loader on UEFI without a video driver warns and continues in text mode.
var reBenign = regexp.MustCompile(`error: no suitable video mode found`)

var fatals = []fatal{
	{regexp.MustCompile(`bad shim signature`), ReasonPayloadNotSigned, MilestoneKernel},
	{regexp.MustCompile(`Access Denied|Security Violation`), ReasonBootloaderNotSigned, MilestoneMenu},
	{regexp.MustCompile(`prohibited by secure boot policy`), ReasonSecureBootPolicy, MilestoneKernel},
	{regexp.MustCompile(`Kernel panic`), ReasonKernelPanic, MilestonePayload},
	{regexp.MustCompile(`Unable to find a medium containing a live file system|Gave up waiting for|ALERT! .* does not exist|Rebooting automatically due to panic=|Dropping to a shell|dracut Warning: Could not boot|Entering emergency mode`),
		ReasonInitramfs, MilestonePayload},
	{regexp.MustCompile(`No bootable device|No bootable option`), ReasonNoBootDevice, MilestoneMenu},
	{regexp.MustCompile(`error: `), ReasonGRUBError, MilestoneKernel},
}

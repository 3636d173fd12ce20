package boottest

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// watcher follows one boot's serial lines and decides pass or fail.
type watcher struct {
	c          Case
	start      time.Time
	reached    Milestone
	times      []MilestoneTime
	keysSent   bool
	selectKeys func(Entry) []string
	queue      []string // key groups still to type
	selecting  bool     // the queue is the entry selection (its last group is Enter)
	typedAny   bool
	retries    int

	// A chosen entry may open another menu (configfile of an ISO's
	// loopback.cfg): Enter boots its default entry.
	lastEnter time.Time
	highlight string // the entry GRUB last drew as selected ("*title")
	reEnters  int    // Enters typed again because nothing happened

	// Seeking selects Case.Entry.Title by watching the highlight: one key
	// at a time, in one direction until the highlight stops moving.
	seeking  bool
	up       bool   // direction: '^' when true
	presses  int    // keys typed while seeking
	stuck    int    // presses in a row that did not move the highlight
	lastSeen string // the highlight when the previous key went out

	// The VGA text screen (SeaBIOS): lines shown before the entry started
	// are GRUB's, the firmware's or the menu's; later ones are judged once.
	preBoot map[string]bool
	judged  map[string]bool

	done      bool
	pass      bool
	reason    Reason
	detail    string
	matched   string // the text that proved the boot
	matchedOn string // serial or screen
}

func newWatcher(c Case, start time.Time) *watcher {
	return &watcher{c: c, start: start, preBoot: map[string]bool{}, judged: map[string]bool{}}
}

// bar is the milestone that counts as success: the kernel banner for a
// Linux payload without expect:, else the payload's marker or proof.
func (w *watcher) bar() Milestone {
	if w.c.source() == ProofKernelBanner {
		return MilestoneKernel
	}
	return MilestonePayload
}

func (w *watcher) mark(m Milestone) {
	if m <= w.reached {
		return
	}
	w.reached = m
	w.times = append(w.times, MilestoneTime{Milestone: m, At: time.Since(w.start)})
	if m >= w.bar() {
		w.finish(true, ReasonNone, "")
	}
}

func (w *watcher) finish(pass bool, r Reason, detail string) {
	if !w.done {
		w.done, w.pass, w.reason, w.detail = true, pass, r, strings.TrimSpace(detail)
	}
}

// line takes one stripped serial line; partial lines (no newline yet) may
// come again, longer.
func (w *watcher) line(s string, partial bool) {
	if w.done {
		return
	}
	if w.reached < MilestoneFirmware && reFirmware.MatchString(s) {
		w.mark(MilestoneFirmware)
	}
	if reMenu.MatchString(s) {
		w.menu()
	}
	if w.keysSent && w.reached == MilestoneMenu {
		if all := reHighlight.FindAllStringSubmatch(s, -1); all != nil {
			w.highlight = strings.TrimSpace(all[len(all)-1][1])
		}
	}
	if m := reBooting.FindStringSubmatch(s); m != nil {
		w.booting(m[1])
		return // GRUB echoes the title: never match the payload marker in it
	}
	if w.reached >= MilestoneBooting && !reMenu.MatchString(s) {
		w.judge(s, partial, "serial")
	}
	if !partial {
		w.checkFatal(s)
	}
}

// judge looks for the kernel banner and the case's proof (expect:, or its
// family's pattern) in a line shown after the entry started.
func (w *watcher) judge(s string, partial bool, on string) {
	if reKernel.MatchString(s) {
		w.proved(MilestoneKernel, s, reKernel, on)
	}
	switch re := proofPatterns[w.c.Proof]; {
	case w.c.Marker != nil:
		if w.c.Marker.MatchString(s) {
			w.proved(MilestonePayload, s, w.c.Marker, on)
		}
	case re != nil:
		if re.MatchString(s) {
			w.proved(MilestonePayload, s, re, on)
		}
	}
}

// ownOutput takes a complete line of the serial console cut at cursor
// moves too, or of the screen: with ProofPayload, the first one after the
// entry started that is not GRUB's or the firmware's proves the boot.
// Partial lines never count: a line GRUB is still printing could be cut
// before its telling word.
func (w *watcher) ownOutput(s string, partial bool, on string) {
	if w.c.source() != ProofFamily || w.c.Proof != ProofPayload || partial || w.done ||
		w.reached < MilestoneBooting || reMenu.MatchString(s) || reBooting.MatchString(s) {
		return
	}
	if payloadOutput(s, w.c.Entry.Title) {
		w.proved(MilestonePayload, s, nil, on)
	}
}

// proved marks m, keeping what proved it when m is the bar.
func (w *watcher) proved(m Milestone, s string, re *regexp.Regexp, on string) {
	if m >= w.bar() && !w.done {
		w.matched, w.matchedOn = strings.TrimSpace(s), on
		if re != nil {
			w.matched = excerpt(s, re)
		}
		if len(w.matched) > 160 {
			w.matched = w.matched[:160]
		}
	}
	w.mark(m)
}

// screen takes the VGA text screen's lines: the firmware's banner is a
// milestone; until the entry starts, every line is remembered as not the
// payload's (the menu, GRUB's and the firmware's words); after, each new
// line is judged once, for the proof and for failures.
func (w *watcher) screen(lines []string) {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || w.done {
			continue
		}
		if w.reached < MilestoneFirmware && reFirmware.MatchString(l) {
			w.mark(MilestoneFirmware)
		}
		if w.reached < MilestoneBooting {
			w.preBoot[l] = true
			continue
		}
		if w.preBoot[l] || w.judged[l] {
			continue
		}
		w.judged[l] = true
		w.judge(l, false, "screen")
		w.ownOutput(l, false, "screen")
		w.checkFatal(l)
	}
}

// shown remembers lines as shown before the entry started: the screen at
// the moment Enter is typed, which the last reading may have missed.
func (w *watcher) shown(lines []string) {
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			w.preBoot[l] = true
		}
	}
}

func (w *watcher) menu() {
	switch {
	case w.reached < MilestoneMenu:
		w.mark(MilestoneMenu)
		switch {
		case !w.keysSent && w.selectKeys == nil && w.c.Entry.Title != "":
			w.keysSent, w.seeking, w.up = true, true, true
		case !w.keysSent && w.selectKeys != nil:
			w.keysSent, w.selecting = true, true
			w.queue = w.selectKeys(w.c.Entry)
		}
	case w.reached == MilestoneBooting && time.Since(w.lastEnter) > 3*time.Second:
		w.lastEnter = time.Now()
		w.queue = append(w.queue, "\r")
	}
}

// keyQuiet is how long the console must be silent before the next key
// group goes out: GRUB has then drawn the effect of the previous one.
const keyQuiet = 800 * time.Millisecond

// nextKeys returns the next key group to type, once the console has been
// quiet for keyQuiet. Before the final Enter of the selection it checks
// the highlighted entry, so a wrong entry is never booted; GRUB prints
// "Booting" only when it autoboots, so the Enter marks MilestoneBooting.
func (w *watcher) nextKeys(quiet time.Duration) string {
	if k := w.lostEnter(quiet); k != "" {
		return k
	}
	if w.seeking {
		return w.seek(quiet)
	}
	// The first group goes at once: it stops the menu's countdown, whose
	// once-a-second redraw would otherwise never leave the console quiet.
	first := w.selecting && !w.typedAny
	if w.done || len(w.queue) == 0 || (quiet < keyQuiet && !first) {
		return ""
	}
	w.typedAny = true
	k := w.queue[0]
	w.queue = w.queue[1:]
	if w.selecting && len(w.queue) == 0 {
		w.selecting = false
		if want := w.c.Entry.Title; want != "" && w.highlight != want {
			// Keys typed while GRUB was still drawing can be lost: type
			// the selection again before calling it the wrong entry.
			if w.retries < 2 {
				w.retries++
				w.selecting, w.queue = true, w.selectKeys(w.c.Entry)
				return ""
			}
			w.finish(false, ReasonWrongEntry, "highlighted `"+w.highlight+"', want `"+want+"'")
			return ""
		}
		w.booting(w.highlight)
		w.lastEnter = time.Now()
	}
	return k
}

// enterLost is how long a silent console after the selection's Enter means
// the key was lost (seen on a loaded host: the menu then waits forever,
// its countdown already stopped). GRUB loading a large initrd under TCG can
// be silent for several seconds, so the bar is high.
const enterLost = 20 * time.Second

// lostEnter types Enter again, at most twice, when the entry was chosen but
// nothing at all appeared since: no kernel, no GRUB message.
func (w *watcher) lostEnter(quiet time.Duration) string {
	if w.done || w.reached != MilestoneBooting || w.reEnters >= 2 || len(w.queue) > 0 ||
		quiet < enterLost || time.Since(w.lastEnter) < enterLost {
		return ""
	}
	w.reEnters++
	w.lastEnter = time.Now()
	return "\r"
}

func (w *watcher) booting(title string) {
	if w.reached >= MilestoneBooting {
		return // the EFI console's copy of the same line
	}
	want := w.c.Entry.Title
	switch {
	case want != "" && title != want:
		w.finish(false, ReasonWrongEntry, "booted `"+title+"', want `"+want+"'")
	case !w.keysSent && want == "" || w.selecting:
		w.finish(false, ReasonNoMenu, "GRUB autobooted `"+title+"' before the selection was typed")
	default:
		w.mark(MilestoneBooting)
	}
}

func (w *watcher) checkFatal(s string) {
	if reBenign.MatchString(s) {
		return
	}
	for _, f := range fatals {
		if w.reached < f.until && f.re.MatchString(s) {
			w.finish(false, f.reason, excerpt(s, f.re))
			return
		}
	}
}

// verdict turns the watcher's state into a Result, applying ExpectFail.
func (w *watcher) verdict(res *Result) {
	res.Milestone, res.Bar, res.Times = w.reached, w.bar(), w.times
	res.Pass, res.Reason, res.Detail = w.pass, w.reason, w.detail
	res.Proof, res.Matched, res.MatchedOn = w.c.source(), w.matched, w.matchedOn
	if res.Proof == ProofFamily {
		res.Payload = w.c.Proof
	}
	if exp := w.c.ExpectFail; exp != ReasonNone {
		switch {
		case res.Pass:
			res.Pass, res.Reason, res.Detail = false, ReasonUnexpectedPass, "expected: "+string(exp)
		case res.Reason == exp:
			res.Pass, res.Expected = true, true
		}
	}
	res.Explanation = Explain(res.Reason)
	if res.Expected {
		res.Explanation = "failed as expected: " + res.Explanation
	}
}

// excerpt cuts the part of a long stripped line (menus join into one) that
// explains a failure: from a preceding "error:" or the match, 160 bytes.
func excerpt(s string, re *regexp.Regexp) string {
	loc := re.FindStringIndex(s)
	start := loc[0]
	if i := strings.LastIndex(s[:start], "error:"); i >= 0 && start-i < 40 {
		start = i
	}
	s = s[start:]
	if len(s) > 160 {
		s = s[:160]
	}
	return strings.TrimSpace(s)
}

// maxPresses bounds a seek: enough to cross any menu a few times.
const maxPresses = 80

// seek types one menu key at a time, each once the console is quiet, until
// GRUB highlights the wanted title, then Enter. Counting keys is not enough:
// on UEFI the firmware and GRUB both read the UART and single keys get lost
// under load. The first key ('^') goes at once to stop the countdown; the
// direction turns when three presses in a row leave the highlight where it
// was (an end of the menu, or keys lost).
func (w *watcher) seek(quiet time.Duration) string {
	if w.done || (quiet < keyQuiet && w.typedAny) {
		return ""
	}
	want := w.c.Entry.Title
	if w.typedAny && w.highlight == want {
		w.seeking = false
		w.booting(w.highlight)
		w.lastEnter = time.Now()
		return "\r"
	}
	if w.presses >= maxPresses {
		w.seeking = false
		w.finish(false, ReasonWrongEntry, "highlighted `"+w.highlight+"', want `"+want+"' after "+strconv.Itoa(w.presses)+" keys")
		return ""
	}
	if w.typedAny && w.highlight == w.lastSeen {
		if w.stuck++; w.stuck >= 3 {
			w.up, w.stuck = !w.up, 0
		}
	} else {
		w.stuck = 0
	}
	w.typedAny, w.lastSeen = true, w.highlight
	w.presses++
	if w.up {
		return "^"
	}
	return "v"
}

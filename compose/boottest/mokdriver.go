package boottest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"
)

// mokDriver types into MokManager's text UI the way a user would, but reads every screen
// by what it says rather than counting keys: OVMF mirrors the firmware console to the
// emulated UART, whose bytes get lost on a loaded host (in both directions), so any key
// may not arrive and any redraw may be partial. Each step reads the newest complete
// screen, decides from its words where the enrolment stands (GRUB's menu, MokManager's
// prompt, its main menu, the volume, a directory, the key, the confirmation), moves the
// highlight one key at a time towards the item wanted and presses Enter only when the
// screen shows that item highlighted. A key the screen did not react to is sent again.
type mokDriver struct {
	conn  net.Conn
	log   io.Writer
	in    chan []byte
	buf   bytes.Buffer // output since the last key
	bg    string       // the background colour in force where buf starts
	stop  <-chan struct{}
	end   time.Time // the whole conversation's deadline
	trace io.Writer // the driver's reading of each screen and the key it sent
	start time.Time
}

// mokTask is one thing to enrol: a certificate ("Enroll key from disk") or a binary's hash.
type mokTask struct {
	menu string // MokManager's main menu item
	file string // ESP path
}

var (
	reMokPrompt = regexp.MustCompile(`Press any key to perform MOK management|Booting in [0-9]+ seconds`)
	reGRUBMenu  = regexp.MustCompile(`Press enter to boot the selected OS`)
	reMokDone   = regexp.MustCompile(`(?i)Reboot`)
)

const (
	keyDown  = "\x1b[B"
	keyUp    = "\x1b[A"
	keyEnter = "\r"
)

var (
	// quiet is how long the console stays silent before a screen counts as drawn.
	quiet = 600 * time.Millisecond
	// react is how long a key may take to change the screen before it is sent again.
	react = 4 * time.Second
)

func (d *mokDriver) read() {
	defer close(d.in)
	for {
		b := make([]byte, 16<<10)
		n, err := d.conn.Read(b)
		if n > 0 {
			select {
			case d.in <- b[:n]:
			case <-d.stop:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// errClosed: the console closed (QEMU exited: after Reboot, what the driver waits for).
var errClosed = errors.New("the serial console closed")

// settle collects output until the console has been quiet for a moment after some output,
// or max passes; it reports whether anything arrived.
func (d *mokDriver) settle(max time.Duration) (bool, error) {
	deadline := time.Now().Add(max)
	if deadline.After(d.end) {
		deadline = d.end
	}
	var last time.Time
	for {
		if !last.IsZero() && time.Since(last) > quiet {
			return true, nil
		}
		if time.Now().After(deadline) {
			if time.Now().After(d.end) {
				return !last.IsZero(), errors.New("gave up: the enrolment's time is over")
			}
			return !last.IsZero(), nil
		}
		select {
		case b, ok := <-d.in:
			if !ok {
				return !last.IsZero(), errClosed
			}
			d.log.Write(b)
			d.buf.Write(b)
			last = time.Now()
		case <-time.After(100 * time.Millisecond):
		case <-d.stop:
			return false, errors.New("cancelled")
		}
	}
}

// press sends a key; the output that follows belongs to the next screen. Output already
// on its way belongs to the screen the key was chosen on: it is drained first.
func (d *mokDriver) press(key string) {
	scr := readMokScreen(d.buf.Bytes(), d.bg)
	fmt.Fprintf(d.trace, "%7.1fs %q highlighted %d: sent %q\n", time.Since(d.start).Seconds(), scr.items, scr.sel, key)
	for drained := false; !drained; {
		select {
		case b, ok := <-d.in:
			if !ok {
				drained = true
			}
			d.log.Write(b)
			d.buf.Write(b)
		default:
			drained = true
		}
	}
	_, d.bg = segments(d.buf.Bytes(), d.bg)
	d.buf.Reset()
	d.conn.Write([]byte(key))
}

// run drives the conversation until every task is confirmed and Reboot is chosen.
func (d *mokDriver) run(tasks []mokTask, volume string) error {
	next, confirming, rebooting, inMok, chosen := 0, false, false, false, false
	var entered []string // the items of the menu Enter was last pressed on
	var enteredAt time.Time
	var last string // what the previous step saw, for the error
	// A key counts as enrolled when the main menu follows Enter on Yes with no other key
	// in between: a lost Enter, then an Esc made of a Down that lost its '[', also lead
	// back to the main menu.
	send := func(key string) {
		if key != keyEnter {
			confirming = false
		}
		d.press(key)
	}
	for {
		changed, err := d.settle(react)
		if errors.Is(err, errClosed) && rebooting {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%w (enrolled %d of %d; last screen %s)", err, next, len(tasks), last)
		}
		text := screenText(d.buf.Bytes())
		scr := readMokScreen(d.buf.Bytes(), d.bg)
		if reGRUBMenu.MatchString(text) { // at the start, or MokManager went back to GRUB
			last, inMok, confirming = "GRUB's menu", false, false
			if err := d.selectGRUBEntry(); err != nil {
				return err
			}
			chosen = true
			continue
		}
		if confirming && scr.has("Enroll key from disk") {
			next, confirming = next+1, false
		}
		want, err := target(scr, tasks, next, volume)
		if err != nil {
			return fmt.Errorf("%w (enrolled %d of %d)", err, next, len(tasks))
		}
		if len(scr.items) > 0 {
			last, chosen, inMok = fmt.Sprintf("%q (highlighted %d)", scr.items, scr.sel), false, true
		}
		if want >= 0 && slices.Equal(scr.items, entered) && time.Since(enteredAt) < 3*react {
			// MokManager draws a box more than once: the menu just left, drawn again while
			// the next screen loads (enrolling a key takes seconds), is not a new screen.
			continue
		}
		switch {
		case want < 0 && reMokPrompt.MatchString(text):
			last, inMok, chosen = "MokManager's prompt", true, false
			send(" ")
			continue
		case want < 0 && chosen && !changed:
			// GRUB printed nothing after Enter on the MOK manager entry: Enter again (should
			// the first have arrived, the second is the "any key" MokManager asks for).
			send(keyEnter)
			continue
		case want < 0 && inMok && !changed:
			// MokManager did not react (a key lost, or a box drawn in part): any move redraws its box.
			send(keyDown)
			continue
		case want < 0:
			continue // not MokManager's screen yet (firmware, shim), or a box drawn in part
		}
		switch {
		case scr.sel < 0: // the highlight's colours were lost: any move redraws the box
			send(keyDown)
		case scr.sel < want:
			send(keyDown)
		case scr.sel > want:
			send(keyUp)
		default:
			item := scr.items[want]
			confirming = confirming || item == "Yes"
			rebooting = next == len(tasks) && reMokDone.MatchString(item)
			entered, enteredAt = scr.items, time.Now()
			send(keyEnter)
		}
	}
}

// target is the index of the item to choose on scr: the main menu's enrol item while tasks
// remain, else Reboot; the stick's volume; the next directory on the way to the task's
// file, or the file (or ../ in a directory off the way); Continue after the key's details; Yes to confirm.
func target(scr mokScreen, tasks []mokTask, next int, volume string) (int, error) {
	switch {
	case scr.has("Enroll key from disk") || scr.has("Enroll hash from disk"):
		if next == len(tasks) {
			return scr.index(func(s string) bool { return reMokDone.MatchString(s) }), nil
		}
		return scr.index(is(tasks[next].menu)), nil
	case scr.has("Yes") && scr.has("No"):
		return scr.index(is("Yes")), nil
	case scr.has("Continue"):
		return scr.index(is("Continue")), nil
	case next == len(tasks):
		return -1, nil
	}
	if i := scr.index(func(s string) bool {
		return strings.EqualFold(s, volume) || strings.HasPrefix(strings.ToUpper(s), strings.ToUpper(volume)+",")
	}); i >= 0 {
		return i, nil
	}
	// A directory listing. The volume's root is the one without "../" (the ESP has a
	// compose/ there as well as in EFI/): there, the path's first directory; below, the
	// deepest step of the path the listing shows.
	file := strings.Trim(tasks[next].file, "/")
	steps := []string{path.Base(file)}
	for dir := path.Dir(file); dir != "."; dir = path.Dir(dir) {
		steps = append(steps, path.Base(dir)+"/")
	}
	if !scr.has("../") {
		return scr.index(is(steps[len(steps)-1])), nil
	}
	for _, s := range steps[:len(steps)-1] {
		if i := scr.index(is(s)); i >= 0 {
			return i, nil
		}
	}
	return scr.index(is("../")), nil // a directory off the way (a wrong item chosen): back up
}

// selectGRUBEntry picks the kit's MokManager entry in GRUB's menu: '^' and 'v' one at a
// time (single bytes: a lost byte cannot turn into another key) until GRUB draws
// "*MOK manager…" highlighted, then Enter. The direction turns when three keys in a row
// leave the highlight where it was (an end of the menu, or lost keys).
func (d *mokDriver) selectGRUBEntry() error {
	key, prev, same := "v", "", 0
	flip := map[string]string{"^": "v", "v": "^"}
	d.press("^") // stops the countdown
	for range 60 {
		if _, err := d.settle(react); err != nil {
			return fmt.Errorf("GRUB's menu: %w", err)
		}
		hl := reHighlight.FindAllStringSubmatch(screenText(d.buf.Bytes()), -1)
		cur := ""
		if len(hl) > 0 {
			cur = hl[len(hl)-1][1]
		}
		if strings.HasPrefix(cur, "MOK manager") {
			d.press(keyEnter)
			return nil
		}
		if cur == prev && cur != "" {
			same++
		} else {
			prev, same = cur, 0
		}
		if same == 3 {
			key, same = flip[key], 0
		}
		d.press(key)
	}
	return errors.New("the MOK manager entry never got highlighted in GRUB's menu")
}

// screenText turns console output into lines: a cursor move starts a new line (MokManager
// and GRUB position every line), other control sequences (colours) are dropped.
func screenText(b []byte) string {
	var out []string
	segs, _ := segments(b, "")
	for _, s := range segs {
		out = append(out, s.text)
	}
	return strings.Join(out, "\n")
}

package boottest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Enrolment asks MokManager, started from the kit's own menu, to enrol certificates (and
// hashes) from the stick, the way a user does it at the machine. Firmware must enforce
// Secure Boot (uefi-sb): MokManager is Debian's signed build and runs through shim.
type Enrolment struct {
	Firmware Firmware
	Volume   string   // the ESP's FAT label, as MokManager lists the volume
	Keys     []string // ESP paths of DER certificates ("Enroll key from disk")
	Hashes   []string // ESP paths of binaries ("Enroll hash from disk")
	Timeout  time.Duration
}

// ErrEnrolment is wrapped by every error of Enrol that is MokManager not doing what the
// driver asked (as opposed to QEMU missing).
var ErrEnrolment = errors.New("MokManager enrolment failed")

// Enrol boots r.Image, selects the kit's MokManager entry, enrols every key and hash of e
// through MokManager's menus over the serial console, chooses Reboot, and returns the
// path of the firmware variable store that now holds the MOK list (in r.LogDir, named
// <firmware>-mok.vars.fd). Use it as Files.Vars for the boots that follow: each boot
// copies it, so every boot starts from the enrolled state and changes nothing in it.
// The serial log is <LogDir>/<firmware>-mokmanager.log.
func (r *Runner) Enrol(ctx context.Context, e Enrolment) (string, error) {
	if !e.Firmware.SecureBoot() {
		return "", fmt.Errorf("enrolment needs a Secure Boot firmware, not %s", e.Firmware)
	}
	m := Machine{Image: r.Image, Firmware: e.Firmware, Memory: r.Memory}
	if f, ok := r.Files[e.Firmware]; ok {
		m.Files = &f
	}
	files, err := m.files()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(r.LogDir, 0o755); err != nil {
		return "", fmt.Errorf("log directory: %w", err)
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	dir, err := os.MkdirTemp("", "compose-mok-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, e.Timeout)
	defer cancel()
	cmd, sock, err := headlessCmd(ctx, m, files, dir)
	if err != nil {
		return "", err
	}
	base := filepath.Join(r.LogDir, string(e.Firmware)+"-mokmanager")
	logf, err := os.Create(base + ".log")
	if err != nil {
		return "", err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("starting QEMU: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	conn, err := dialSerial(ctx, sock, exited)
	if err != nil {
		return "", err
	}
	d := &mokDriver{conn: conn, log: logf, ctx: ctx, in: make(chan []byte, 64)}
	go d.read()
	if err := d.run(e); err != nil {
		return "", fmt.Errorf("%w: %v (serial log %s.log)", ErrEnrolment, err, base)
	}
	select { // Reboot: QEMU runs with -no-reboot, so it exits and the store is complete
	case <-exited:
		exited <- nil
	case <-ctx.Done():
		return "", fmt.Errorf("%w: the machine did not reboot after enrolment", ErrEnrolment)
	}
	out := base + ".vars.fd"
	if err := copyVars(filepath.Join(dir, "vars.fd"), out, 0); err != nil {
		return "", err
	}
	return out, nil
}

// mokDriver types into MokManager's text UI. MokManager draws every menu as a box of
// items (the first one selected) on the firmware console, which OVMF mirrors to serial
// with cursor movements; the driver reads the items of the newest box, presses Down as
// many times as the wanted item's position, then Enter.
type mokDriver struct {
	conn net.Conn
	log  io.Writer
	ctx  context.Context
	buf  bytes.Buffer // text since the last key, cursor movements turned into line breaks
	in   chan []byte
}

func (d *mokDriver) read() {
	defer close(d.in)
	for {
		b := make([]byte, 16<<10)
		n, err := d.conn.Read(b)
		if n > 0 {
			d.in <- b[:n]
		}
		if err != nil {
			return
		}
	}
}

var (
	reCSI       = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)
	reCursorPos = regexp.MustCompile(`\x1b\[[0-9;]*[Hf]`)
	reMokPrompt = regexp.MustCompile(`Press any key to perform MOK management`)
	reGRUBMenu  = regexp.MustCompile(`Press enter to boot the selected OS`)
)

// wait collects serial output until done holds for the text since the last key and the
// console then stays quiet briefly (a box is drawn in pieces), or max passes.
func (d *mokDriver) wait(done func(string) bool, max time.Duration) (string, error) {
	deadline := time.After(max)
	var last time.Time
	for {
		text := screenText(d.buf.Bytes())
		if done(text) && time.Since(last) > 700*time.Millisecond {
			return text, nil
		}
		select {
		case b, ok := <-d.in:
			if !ok {
				return text, errors.New("the serial console closed")
			}
			d.log.Write(b)
			d.buf.Write(bytes.ReplaceAll(b, []byte("\r"), nil))
			last = time.Now()
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			return text, fmt.Errorf("gave up after %s", max)
		case <-d.ctx.Done():
			return text, d.ctx.Err()
		}
	}
}

// screenText turns console output into lines: a cursor move starts a new line (MokManager
// and GRUB position every line), other control sequences (colours) are dropped.
func screenText(b []byte) string {
	b = reCSI.ReplaceAll(reCursorPos.ReplaceAll(b, []byte("\n")), nil)
	// An ESC left over is a sequence whose bytes the UART lost (seen under load): it
	// still separated two screen lines.
	return string(bytes.ReplaceAll(b, []byte("\x1b"), []byte("\n")))
}

func matches(re *regexp.Regexp) func(string) bool { return re.MatchString }

func (d *mokDriver) send(keys string) {
	for drained := false; !drained; { // output from before the key belongs to the old screen
		select {
		case b, ok := <-d.in:
			if !ok {
				drained = true
			}
			d.log.Write(b)
		default:
			drained = true
		}
	}
	d.buf.Reset()
	d.conn.Write([]byte(keys))
}

// boxItems returns the items of the last complete box in text: the lines between a top
// and a bottom border, framed by vertical bars. OVMF sends code page 437 line drawing
// (0xDA 0xC0 0xB3) or, after some screens, ASCII ('+' corners, '|' bars).
func boxItems(text string) []string {
	var items, cur []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "\xda") || (!in && strings.HasPrefix(t, "+-")):
			in, cur = true, nil
		case in && (strings.HasPrefix(t, "\xc0") || strings.HasPrefix(t, "+-")):
			in, items = false, cur
		case in && (strings.HasPrefix(t, "\xb3") || strings.HasPrefix(t, "|")) && len(t) > 2:
			if it := strings.TrimSpace(strings.Trim(t, "\xb3|")); it != "" {
				cur = append(cur, it)
			}
		}
	}
	return items
}

// choose waits for a menu box holding item and selects it.
func (d *mokDriver) choose(item string, max time.Duration) error {
	var items []string
	at := -1
	_, err := d.wait(func(text string) bool {
		items, at = boxItems(text), -1
		for i, it := range items {
			if it == item {
				at = i
			}
		}
		return at >= 0
	}, max)
	if err != nil {
		return fmt.Errorf("menu item %q not shown (last menu %q): %w", item, items, err)
	}
	for range at {
		d.send("\x1b[B")
		time.Sleep(400 * time.Millisecond)
	}
	d.send("\r")
	return nil
}

// run is the whole conversation: GRUB's menu → MokManager → each key and hash → Reboot.
func (d *mokDriver) run(e Enrolment) error {
	if err := d.selectGRUBEntry(); err != nil {
		return err
	}
	// A key can get lost on a loaded host (firmware and GRUB share the UART): Enter again
	// while nothing happens.
	for try := 0; ; try++ {
		_, err := d.wait(matches(reMokPrompt), 20*time.Second)
		if err == nil {
			break
		}
		if try == 3 || d.buf.Len() > 0 {
			return fmt.Errorf("MokManager did not start: %w", err)
		}
		d.send("\r")
	}
	d.send(" ")
	enrol := func(menu, file string) error {
		if err := d.choose(menu, time.Minute); err != nil {
			return err
		}
		if err := d.choose(e.Volume, time.Minute); err != nil {
			return err
		}
		dirs := strings.Split(strings.Trim(path.Dir(file), "/"), "/")
		for _, dir := range dirs {
			if err := d.choose(dir+"/", time.Minute); err != nil {
				return err
			}
		}
		if err := d.choose(path.Base(file), time.Minute); err != nil {
			return err
		}
		if err := d.choose("Continue", time.Minute); err != nil {
			return err
		}
		return d.choose("Yes", time.Minute)
	}
	for _, k := range e.Keys {
		if err := enrol("Enroll key from disk", k); err != nil {
			return fmt.Errorf("enrolling %s: %w", k, err)
		}
	}
	for _, h := range e.Hashes {
		if err := enrol("Enroll hash from disk", h); err != nil {
			return fmt.Errorf("enrolling the hash of %s: %w", h, err)
		}
	}
	return d.choose("Reboot", time.Minute)
}

// selectGRUBEntry presses GRUB's "down" one key at a time until the MokManager entry is
// highlighted ("*MOK manager…"), then Enter.
func (d *mokDriver) selectGRUBEntry() error {
	if _, err := d.wait(matches(reGRUBMenu), 3*time.Minute); err != nil {
		return fmt.Errorf("GRUB menu: %w", err)
	}
	d.send("^")
	for range 40 {
		text, _ := d.wait(matches(reHighlight), 3*time.Second)
		if hl := reHighlight.FindAllStringSubmatch(text, -1); len(hl) > 0 && strings.HasPrefix(hl[len(hl)-1][1], "MOK manager") {
			d.send("\r")
			return nil
		}
		d.send("v")
	}
	return errors.New("the MOK manager entry never got highlighted in GRUB's menu")
}

package boottest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The VGA text screen: 80×25 cells of (character, attribute) at physical
// address 0xB8000, where SeaBIOS, GRUB's console, memtest86+ and iPXE draw.
// QMP's pmemsave copies it to a file in a millisecond (measured: 1–55 ms on
// a loaded 2-core host); screendump would render it to an image instead.
const (
	vgaText            = 0xb8000
	screenCols         = 80
	screenRows         = 25
	screenBytes        = screenCols * screenRows * 2
	screenPollInterval = 500 * time.Millisecond
)

// Screen is one reading of the VGA text screen.
type Screen struct {
	Raw []byte // characters and attributes, as in video memory
}

// Lines are the screen's rows, printable ASCII kept, anything else (box
// drawing, attributes) a space, trailing spaces cut.
func (s Screen) Lines() []string {
	lines := make([]string, 0, screenRows)
	for r := range screenRows {
		var b strings.Builder
		for c := range screenCols {
			i := (r*screenCols + c) * 2
			ch := byte(' ')
			if i < len(s.Raw) && s.Raw[i] >= 0x20 && s.Raw[i] < 0x7f {
				ch = s.Raw[i]
			}
			b.WriteByte(ch)
		}
		lines = append(lines, strings.TrimRight(b.String(), " "))
	}
	return lines
}

// Text is the screen as lines of text.
func (s Screen) Text() string { return strings.Join(s.Lines(), "\n") }

// errNoScreen: the guest was started without GuestOptions.Screen, or QEMU's
// monitor did not answer.
var errNoScreen = errors.New("the screen is not read for this guest")

// Screen reads the VGA text screen now (Start with GuestOptions.Screen).
func (g *Guest) Screen() (Screen, error) {
	if g.qmp == nil {
		return Screen{}, errNoScreen
	}
	p := filepath.Join(g.dir, "screen.bin")
	err := g.qmp.do("pmemsave", map[string]any{"val": vgaText, "size": screenBytes, "filename": p})
	if err != nil {
		return Screen{}, fmt.Errorf("reading the screen: %w", err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Screen{}, fmt.Errorf("reading the screen: %w", err)
	}
	return Screen{Raw: b}, nil
}

// qmpClient speaks QEMU's machine protocol: a JSON object per line.
type qmpClient struct {
	conn net.Conn
	r    *bufio.Reader
}

// qmpTimeout bounds one monitor command: a QEMU that does not answer leaves
// the screen unread, never the boot waiting.
const qmpTimeout = 5 * time.Second

func dialQMP(sock string) (*qmpClient, error) {
	conn, err := net.DialTimeout("unix", sock, qmpTimeout)
	if err != nil {
		return nil, err
	}
	q := &qmpClient{conn: conn, r: bufio.NewReader(conn)}
	conn.SetDeadline(time.Now().Add(qmpTimeout))
	if _, err := q.r.ReadBytes('\n'); err != nil { // the greeting
		conn.Close()
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if err := q.do("qmp_capabilities", nil); err != nil {
		conn.Close()
		return nil, err
	}
	return q, nil
}

// do runs one command and waits for its answer, skipping events.
func (q *qmpClient) do(cmd string, args map[string]any) error {
	q.conn.SetDeadline(time.Now().Add(qmpTimeout))
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	b, _ := json.Marshal(req)
	if _, err := q.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("qmp %s: %w", cmd, err)
	}
	for {
		line, err := q.r.ReadBytes('\n')
		if err != nil {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
		}
		if json.Unmarshal(line, &resp) != nil {
			continue
		}
		if resp.Error != nil {
			return fmt.Errorf("qmp %s: %s", cmd, resp.Error.Desc)
		}
		if resp.Return != nil {
			return nil
		}
	}
}

func (q *qmpClient) close() { q.conn.Close() }

// screenLog keeps every screen a boot showed, each once, with the time since
// QEMU started: <firmware>-<entry>.screen.txt.
type screenLog struct {
	f     *os.File
	start time.Time
	last  []byte
	text  string
}

func newScreenLog(path string, start time.Time) (*screenLog, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("screen log: %w", err)
	}
	return &screenLog{f: f, start: start}, nil
}

// changed reports whether s differs from the last reading (characters or
// colours: a moved highlight is news too) and logs its text when that
// changed.
func (l *screenLog) changed(s Screen) bool {
	if string(s.Raw) == string(l.last) {
		return false
	}
	l.last = s.Raw
	if t := s.Text(); t != l.text {
		l.text = t
		fmt.Fprintf(l.f, "--- %s\n%s\n", time.Since(l.start).Round(100*time.Millisecond), strings.TrimRight(t, "\n"))
	}
	return true
}

func (l *screenLog) close() { l.f.Close() }

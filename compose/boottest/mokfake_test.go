package boottest

import (
	"fmt"
	"io"
	"math/rand"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeMok plays GRUB's menu and MokManager's screens as OVMF mirrors them to serial
// (boxes in code page 437, the highlighted item on black, the rest on blue, every box
// drawn again on each key), and loses bytes both ways with the given odds, as the
// emulated UART does on a loaded host.
type fakeMok struct {
	conn     net.Conn
	rng      *rand.Rand
	lossOut  float64 // odds that a byte of output is lost
	lossIn   float64 // odds that a byte typed is lost
	screen   string
	items    []string
	sel      int
	dir      string
	file     string
	enrolled []string
	booted   string // what GRUB booted other than MokManager
}

var fakeTree = map[string][]string{
	"/":                   {"EFI/", "boot/", "compose/", "isos/"},
	"/EFI":                {"../", "BOOT/", "compose/", "debian/"},
	"/EFI/BOOT":           {"../", "BOOTX64.EFI", "grubx64.efi", "mmx64.efi"},
	"/EFI/debian":         {"../", "grub.cfg"},
	"/EFI/compose":        {"../", "keys/", "signed/"},
	"/EFI/compose/keys":   {"../", "compose.cer", "vendorcorp.cer"},
	"/EFI/compose/signed": {"../", "memtest/"},
	"/boot":               {"../", "grub/"},
	"/compose":            {"../", "state.json"},
	"/isos":               {"../", "memtest.iso"},
}

func (f *fakeMok) write(s string) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if f.rng.Float64() >= f.lossOut {
			b = append(b, s[i])
		}
	}
	f.conn.Write(b)
}

func (f *fakeMok) show(screen string, items []string) {
	f.screen, f.items, f.sel = screen, items, 0
	f.draw()
}

func (f *fakeMok) draw() {
	if f.screen == "grub" {
		var b strings.Builder
		b.WriteString("\x1b[2;25HGNU GRUB  version 2.12\x1b[4;2H+------+")
		for i, it := range f.items {
			mark := " "
			if i == f.sel {
				mark = "*"
			}
			fmt.Fprintf(&b, "\x1b[%d;3H%s%-60s\x1b[m", 5+i, mark, it)
		}
		b.WriteString("\x1b[18;2H     Use the ^ and v keys to select which entry is highlighted.\r\n      Press enter to boot the selected OS, `e' to edit the commands")
		f.write(b.String())
		return
	}
	if f.screen == "prompt" {
		f.write("\x1b[0m\x1b[37m\x1b[44m\x1b[01;01H\xda\xc4\xc4\xbf\x1b[02;01H\xb3 Shim UEFI key management \xb3\x1b[03;01H\xc0\xc4\xc4\xd9\x1b[16;31HPress any key to perform MOK management\x1b[29;03HBooting in 10 seconds  ")
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\x1b[0m\x1b[37m\x1b[44m\x1b[01;01H\xda\xc4\xc4\xbf\x1b[02;01H\xb3 %s \xb3\x1b[03;01H\xc0\xc4\xc4\xd9", f.screen)
	b.WriteString("\x1b[10;29H\xda\xc4\xc4\xbf")
	for i, it := range f.items {
		if i == f.sel {
			b.WriteString("\x1b[0m\x1b[37m\x1b[40m")
		}
		fmt.Fprintf(&b, "\x1b[%d;29H\xb3 %-20s \xb3", 11+i, it)
		if i == f.sel {
			b.WriteString("\x1b[0m\x1b[37m\x1b[44m")
		}
	}
	fmt.Fprintf(&b, "\x1b[%d;29H\xc0\xc4\xc4\xd9", 11+len(f.items))
	f.write(b.String())
	if f.rng.Intn(2) == 0 {
		time.Sleep(20 * time.Millisecond)
		f.write(b.String())
	}
}

// key acts on one key as GRUB or MokManager does; done is true when the machine resets.
func (f *fakeMok) key(k string) (done bool) {
	switch {
	case k == "\x1b" && f.screen != "grub" && f.screen != "prompt": // Esc: back to the main menu
		f.mainMenu()
	case f.screen == "prompt":
		f.mainMenu()
	case k == "^" || k == "\x1b[A":
		f.sel = max(f.sel-1, 0)
		f.draw()
	case k == "v" || k == "\x1b[B":
		f.sel = min(f.sel+1, len(f.items)-1)
		f.draw()
	case k == "\r":
		return f.enter(f.items[f.sel])
	}
	return false
}

func (f *fakeMok) mainMenu() {
	first := "Continue boot"
	if len(f.enrolled) > 0 {
		first = "Reboot"
	}
	f.show("Perform MOK management", []string{first, "Enroll key from disk", "Enroll hash from disk"})
}

func (f *fakeMok) enter(it string) bool {
	switch {
	case f.screen == "grub" && strings.HasPrefix(it, "MOK manager"):
		f.show("prompt", nil)
	case f.screen == "grub":
		f.booted = it
		return true
	case it == "Continue boot":
		f.grub()
	case it == "Reboot":
		return true
	case it == "Enroll key from disk":
		f.show("Select Key", []string{"TESTKIT"})
	case it == "TESTKIT":
		f.dir = "/"
		f.show("Select Key", fakeTree["/"])
	case it == "../":
		f.dir = strings.TrimSuffix(f.dir[:strings.LastIndex(f.dir, "/")+1], "/")
		if f.dir == "" {
			f.dir = "/"
		}
		f.show("Select Key", fakeTree[f.dir])
	case strings.HasSuffix(it, "/"):
		f.dir = strings.TrimSuffix(f.dir, "/") + "/" + strings.TrimSuffix(it, "/")
		f.show("Select Key", fakeTree[f.dir])
	case strings.HasSuffix(it, ".cer"):
		f.file = f.dir + "/" + it
		f.show("[Enroll MOK]", []string{"View key 0", "Continue"})
	case it == "Continue":
		f.show("Enroll the key(s)?", []string{"No", "Yes"})
	case it == "Yes":
		f.enrolled = append(f.enrolled, f.file)
		f.mainMenu()
	default: // No, View key 0, another file: back to the main menu
		f.mainMenu()
	}
	return false
}

func (f *fakeMok) grub() {
	f.show("grub", []string{"memtest", "vendor", "MOK manager: enroll /EFI/compose/keys/compose.cer, vendorcorp.cer", "UEFI firmware setup", "Reboot", "Power off"})
	f.screen = "grub"
}

// serve reads keys (losing some) until the machine resets, then closes the console.
func (f *fakeMok) serve() {
	defer f.conn.Close()
	f.write("BdsDxe: starting Boot0001\r\n")
	f.grub()
	buf := make([]byte, 64)
	var pending []byte
	for {
		n, err := f.conn.Read(buf)
		if err != nil {
			return
		}
		for _, c := range buf[:n] {
			if f.rng.Float64() >= f.lossIn {
				pending = append(pending, c)
			}
		}
		for len(pending) > 0 {
			k := string(pending[:1])
			if pending[0] == 0x1b && len(pending) >= 3 && pending[1] == '[' {
				k = string(pending[:3])
			}
			pending = pending[len(k):]
			if f.key(k) {
				return
			}
		}
	}
}

// The driver enrols both keys through lossy serial in both directions, reading screens
// rather than counting keys, and chooses Reboot at the end.
func TestMokDriverLossy(t *testing.T) {
	quiet, react = 40*time.Millisecond, 300*time.Millisecond
	defer func() { quiet, react = 600*time.Millisecond, 4*time.Second }()
	keys := []string{"/EFI/compose/keys/compose.cer", "/EFI/compose/keys/vendorcorp.cer"}
	for seed := int64(1); seed <= 5; seed++ {
		host, guest := net.Pipe()
		f := &fakeMok{conn: guest, rng: rand.New(rand.NewSource(seed)), lossOut: 0.0005, lossIn: 0.05}
		go f.serve()
		stop := make(chan struct{})
		d := &mokDriver{conn: host, log: io.Discard, trace: io.Discard, in: make(chan []byte, 64), stop: stop,
			end: time.Now().Add(time.Minute), start: time.Now()}
		go d.read()
		err := d.run([]mokTask{{"Enroll key from disk", keys[0]}, {"Enroll key from disk", keys[1]}}, "TESTKIT")
		close(stop)
		host.Close()
		if err != nil || f.booted != "" {
			t.Errorf("seed %d: %v (booted %q)", seed, err, f.booted)
			continue
		}
		if len(f.enrolled) < 2 || !slices.Contains(f.enrolled, keys[0]) || !slices.Contains(f.enrolled, keys[1]) {
			t.Errorf("seed %d: enrolled %q, want both keys", seed, f.enrolled)
		}
	}
}

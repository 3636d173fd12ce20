// Package qemutest is a stand-in for qemu-system-x86_64 in tests of the
// boot-test runner (compose/boottest) and of `compose test`: a test binary
// runs Main when it is started as QEMU. It takes QEMU's command line as
// compose/boottest builds it, serves the serial socket and the QMP socket,
// and behaves as its environment says:
//
//	FAKEQEMU_RUNS     file that gets "<pid> <accel> <probe|boot>" per start
//	FAKEQEMU_PROBE    under -accel kvm, the KVM probe: pass (default), hang
//	                  (prints nothing), error (KVM's internal error, then waits)
//	FAKEQEMU_KVM      under -accel kvm, a boot: ok (default: as under TCG),
//	                  stall (draws the menu, takes Enter, then prints nothing),
//	                  error (KVM's internal error, then waits)
//	FAKEQEMU_MENU     the menu's titles, separated by "|" (default "tiny")
//	FAKEQEMU_PAYLOAD  what the booted entry shows: linux (default: a kernel
//	                  banner on serial), ipxe (iPXE's banner on serial, then
//	                  GRUB's "error: image not loaded."), memtest-vga
//	                  (memtest86+'s screen on VGA only, nothing on serial),
//	                  other (a line of its own on serial), drawn (a screen
//	                  drawn on serial with cursor moves, no newline), none (nothing);
//	                  several, separated by "|", go with the menu's titles
//
// The menu is GRUB's over serial: a footer, and "*title" for the
// highlighted entry, redrawn on every '^' or 'v'; Enter boots it. The
// screen (QMP pmemsave of 0xB8000) shows the same menu, then the payload.
package qemutest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Main runs the fake QEMU with os.Args and exits when it is done (it is
// killed, as QEMU is, in the usual case).
func Main() {
	q := parse(os.Args[1:])
	q.record()
	if q.accel == "kvm" && q.probe {
		q.runProbe()
		return
	}
	if q.accel == "kvm" && os.Getenv("FAKEQEMU_KVM") == "error" {
		kvmError()
	}
	q.runBoot()
}

type fake struct {
	accel, serial, qmp, image string
	probe, bios               bool

	mu     sync.Mutex
	screen []string // the VGA text screen's lines
}

func parse(args []string) *fake {
	q := &fake{bios: true}
	for i, a := range args {
		next := ""
		if i+1 < len(args) {
			next = args[i+1]
		}
		switch {
		case a == "-accel":
			q.accel = next
		case a == "-qmp":
			q.qmp = strings.TrimPrefix(strings.Split(next, ",")[0], "unix:")
		case strings.HasPrefix(a, "socket,"):
			for _, kv := range strings.Split(a, ",") {
				if p, ok := strings.CutPrefix(kv, "path="); ok {
					q.serial = p
				}
			}
		case strings.HasPrefix(a, "if=pflash"):
			q.bios = false
		case strings.HasPrefix(a, "file=") && strings.Contains(a, "id=d0"):
			q.image = strings.TrimPrefix(strings.Split(a, ",")[0], "file=")
		}
	}
	q.probe = q.image == "" || strings.Contains(q.image, "compose-kvm-probe")
	return q
}

func (q *fake) record() {
	f, err := os.OpenFile(os.Getenv("FAKEQEMU_RUNS"), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	role := "boot"
	if q.probe {
		role = "probe"
	}
	fmt.Fprintf(f, "%d %s %s\n", os.Getpid(), q.accel, role)
	f.Close()
}

// kvmError prints what QEMU prints when KVM cannot run the guest, and waits
// forever, as QEMU does.
func kvmError() {
	fmt.Fprint(os.Stderr, "KVM internal error. Suberror: 1\nextra data[0]: 0x0000000000000000\nemulation failure\nRAX=0000000000000000 RBX=0000000000000000\n")
	time.Sleep(time.Hour)
	os.Exit(1)
}

func (q *fake) runProbe() {
	switch os.Getenv("FAKEQEMU_PROBE") {
	case "error":
		kvmError()
	case "hang":
		c := q.accept()
		defer c.Close()
		time.Sleep(time.Hour)
	default:
		c := q.accept()
		defer c.Close()
		if q.bios {
			fmt.Fprint(c, "compose-kvm-probe: real mode\ncompose-kvm-probe: protected mode\ncompose-kvm-probe: long mode\ncompose-kvm-probe: done\n")
		} else {
			fmt.Fprint(c, "BdsDxe: failed to load Boot0001 \"UEFI QEMU DVD-ROM\": Not Found\n")
		}
		time.Sleep(time.Hour)
	}
}

// accept opens QMP (when asked for) and the serial socket, and waits for the
// serial client, as QEMU with server=on,wait=on does.
func (q *fake) accept() net.Conn {
	if q.qmp != "" {
		l, err := net.Listen("unix", q.qmp)
		if err != nil {
			fail(err)
		}
		go q.serveQMP(l)
	}
	l, err := net.Listen("unix", q.serial)
	if err != nil {
		fail(err)
	}
	c, err := l.Accept()
	if err != nil {
		fail(err)
	}
	return c
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "fake qemu:", err)
	os.Exit(1)
}

func (q *fake) runBoot() {
	c := q.accept()
	defer c.Close()
	titles := strings.Split(os.Getenv("FAKEQEMU_MENU"), "|")
	if titles[0] == "" {
		titles = []string{"tiny"}
	}
	if q.bios {
		q.draw("SeaBIOS (version fake)", "Booting from Hard Disk...")
		time.Sleep(700 * time.Millisecond) // a screen reading sees it
	} else {
		fmt.Fprint(c, "BdsDxe: loading Boot0001 \"UEFI Misc Device\"\r\n")
	}
	sel := q.menu(c, titles, 0)
	r := bufio.NewReader(c)
	for {
		b, err := r.ReadByte()
		if err != nil {
			os.Exit(0)
		}
		switch b {
		case '^':
			sel = q.menu(c, titles, max(sel-1, 0))
		case 'v':
			sel = q.menu(c, titles, min(sel+1, len(titles)-1))
		case '\r':
			q.boot(c, titles[sel], payloadOf(sel))
			time.Sleep(time.Hour)
			return
		}
	}
}

// menu draws GRUB's menu with title i highlighted, on serial and screen.
func (q *fake) menu(c net.Conn, titles []string, i int) int {
	lines := []string{"GNU GRUB  version 2.12"}
	for j, t := range titles {
		mark := " "
		if j == i {
			mark = "*"
		}
		lines = append(lines, mark+t)
	}
	lines = append(lines, "Use the ^ and v keys to select which entry is highlighted.")
	q.draw(lines...) // the screen first: the serial footer lets the runner type
	fmt.Fprint(c, "\x1b[2J\x1b[1;1H"+strings.Join(lines, "\x1b[K\r\n")+"\r\n")
	return i
}

// payloadOf is what the i-th menu entry boots.
func payloadOf(i int) string {
	all := strings.Split(os.Getenv("FAKEQEMU_PAYLOAD"), "|")
	if i < len(all) {
		return all[i]
	}
	return all[0]
}

// boot shows what the payload does once Enter chose title.
func (q *fake) boot(c net.Conn, title, payload string) {
	q.draw()
	if q.accel == "kvm" && os.Getenv("FAKEQEMU_KVM") == "stall" {
		return
	}
	switch payload {
	case "ipxe":
		fmt.Fprint(c, "iPXE initialising devices...ok\r\n\r\niPXE 1.0.0+git -- Open Source Network Boot Firmware\r\nNo more network devices\r\n\r\nerror: image not loaded.\r\n")
	case "memtest-vga":
		time.Sleep(300 * time.Millisecond)
		q.draw("      Memtest86+ v6.10        QEMU Virtual CPU version 2.5+",
			"CLK/Temp: 2694MHz             Pass  0%",
			"CPU: 1 Cores 1 Threads    SMP: Disabled     Time:  0:00:00  Status: Testing  /")
	case "drawn": // a screen drawn with cursor moves and no newline, as memtest86+ through OVMF's console
		fmt.Fprint(c, "/EndEntire\r\nfile path: /ACPI(a0341d0,0)/PCI(0,2)/HD(1,800,21000,fa951afd4a64ee4a,2,2)/File(\r\n\\EFI\\BOOT)/File(BOOTX64.EFI)/EndEntire\r\n")
		fmt.Fprint(c, "\x1b[2J\x1b[01;01H      Drawn tool v2.0      \x1b[02;01H| CPU: fake\x1b[03;01HStatus: busy")
	case "other":
		fmt.Fprint(c, "Booting `"+title+"'\r\n\r\nfile path: /ACPI(a0341d0,0)/PCI(0,2)/File(BOOTX64.EFI)/EndEntire\r\nSomething of its own 1.0\r\n")
	case "none":
	default:
		fmt.Fprint(c, "[    0.000000] Linux version 6.1.0-fake\r\n")
	}
}

func (q *fake) draw(lines ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.screen = lines
}

// vga is the screen as video memory: 80×25 cells of character and
// attribute.
func (q *fake) vga() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	b := make([]byte, 80*25*2)
	for i := 0; i < len(b); i += 2 {
		b[i], b[i+1] = ' ', 7
	}
	for r, l := range q.screen {
		for col := 0; col < len(l) && col < 80 && r < 25; col++ {
			b[(r*80+col)*2] = l[col]
		}
	}
	return b
}

// serveQMP answers the greeting, qmp_capabilities and pmemsave.
func (q *fake) serveQMP(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			fmt.Fprintln(c, `{"QMP": {"version": {}, "capabilities": []}}`)
			sc := bufio.NewScanner(c)
			for sc.Scan() {
				var req struct {
					Execute   string         `json:"execute"`
					Arguments map[string]any `json:"arguments"`
				}
				if json.Unmarshal(sc.Bytes(), &req) != nil {
					continue
				}
				if req.Execute == "pmemsave" {
					name, _ := req.Arguments["filename"].(string)
					os.WriteFile(name, q.vga(), 0o644)
				}
				fmt.Fprintln(c, `{"return": {}}`)
			}
		}()
	}
}

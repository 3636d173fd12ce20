package boottest

import (
	"slices"
	"testing"
)

// The two ways OVMF draws MokManager's menus on serial, as recorded in QEMU.
func TestBoxItems(t *testing.T) {
	cp437 := "\xda\xc4\xc4\xbf\n\xb3 Select Key \xb3\n\xc0\xc4\xc4\xd9\n\xda\xc4\xc4\xbf\n\xb3   ../    \xb3\n\xb3  BOOT/   \xb3\n\xb3 compose/ \xb3\n\xc0\xc4\xc4\xd9\n"
	if got := boxItems(cp437); !slices.Equal(got, []string{"../", "BOOT/", "compose/"}) {
		t.Errorf("code page 437 box: %q", got)
	}
	ascii := "+------------+\n| View key 0 |\n|  Continue  |\n+------------+\n"
	if got := boxItems(ascii); !slices.Equal(got, []string{"View key 0", "Continue"}) {
		t.Errorf("ASCII box: %q", got)
	}
	if got := boxItems("\xda\xc4\xbf\n\xb3 half"); got != nil {
		t.Errorf("an unfinished box has no items yet: %q", got)
	}
	// Recorded: the bar and cursor move between two items lost on a loaded host.
	lossy := "\x1b[14;45H\xda\xc4\xbf\x1b[15;45H\xb3 View key 0\x1b\x1b\x1b[0m\x1b[44m\xb3  Continue  \xb3\x1b[17;45H\xc0\xc4\xd9"
	if got := boxItems(lossy); !slices.Equal(got, []string{"View key 0", "Continue"}) {
		t.Errorf("box with lost bytes: %q", got)
	}
	got := screenText([]byte("\x1b[5;10H\x1b[0m\x1b[30m\x1b[47m Yes \x1b[1;1H No"))
	if got != " Yes \n No" {
		t.Errorf("screenText: %q", got)
	}
}

// MokManager's main menu as shim 16.1's MokManager drew it on serial (borders shortened):
// the highlighted item is on a black background, the others on blue.
const mainMenu = "\x1b[13;39H\xda\xc4\xc4\xbf\x1b[0m\x1b[37m\x1b[40m\x1b[14;39H\xb3     Continue boot     \xb3\x1b[0m\x1b[37m\x1b[44m\x1b[15;39H\xb3 Enroll key from disk  \xb3\x1b[16;39H\xb3 Enroll hash from disk \xb3\x1b[17;39H\xc0\xc4\xc4\xd9"

func TestReadMokScreen(t *testing.T) {
	scr := readMokScreen([]byte(mainMenu), "")
	if !slices.Equal(scr.items, []string{"Continue boot", "Enroll key from disk", "Enroll hash from disk"}) || scr.sel != 0 {
		t.Errorf("main menu: %+v", scr)
	}
	// The same box redrawn after Down: the newest box counts.
	moved := mainMenu + "\x1b[13;39H\xda\xc4\xc4\xbf\x1b[0m\x1b[37m\x1b[44m\x1b[14;39H\xb3     Continue boot     \xb3\x1b[0m\x1b[37m\x1b[40m\x1b[15;39H\xb3 Enroll key from disk  \xb3\x1b[0m\x1b[37m\x1b[44m\x1b[16;39H\xb3 Enroll hash from disk \xb3\x1b[17;39H\xc0\xc4\xc4\xd9"
	if scr := readMokScreen([]byte(moved), ""); scr.sel != 1 {
		t.Errorf("after Down: %+v", scr)
	}
	// Recorded: a redraw after Up starts in the colour the previous box ended with; the
	// driver carries it over from the output before the key.
	_, bg := segments([]byte(mainMenu), "")
	up := "\x1b[13;39H\xda\xc4\xc4\xbf\x1b[14;39H\xb3     Continue boot     \xb3\x1b[0m\x1b[37m\x1b[40m\x1b[15;39H\xb3 Enroll key from disk  \xb3\x1b[0m\x1b[37m\x1b[44m\x1b[16;39H\xb3 Enroll hash from disk \xb3\x1b[17;39H\xc0\xc4\xc4\xd9"
	if scr := readMokScreen([]byte(up), bg); bg != "44" || scr.sel != 1 {
		t.Errorf("redraw after Up (starting on background %q): %+v", bg, scr)
	}
	// Two items: the highlighted one is on another background than the borders.
	no := "\x1b[44m\xda\xc4\xbf\x1b[0m\x1b[40m\n\xb3 No \xb3\x1b[0m\x1b[44m\n\xb3 Yes \xb3\n\xc0\xc4\xd9"
	if scr := readMokScreen([]byte(no), ""); scr.sel != 0 {
		t.Errorf("No highlighted: %+v", scr)
	}
	// Colours lost: the items are read, the highlight is unknown (the driver redraws).
	if scr := readMokScreen([]byte("\xda\xc4\xbf\n\xb3 No \xb3\n\xb3 Yes \xb3\n\xc0\xc4\xd9"), ""); scr.sel != -1 || len(scr.items) != 2 {
		t.Errorf("no colours: %+v", scr)
	}
}

// target decides from the screen's words, wherever the conversation stands.
func TestMokTarget(t *testing.T) {
	tasks := []mokTask{{"Enroll key from disk", "/EFI/compose/keys/vendor.cer"}}
	for _, tt := range []struct {
		items []string
		next  int
		want  int
	}{
		{[]string{"Continue boot", "Enroll key from disk", "Enroll hash from disk"}, 0, 1},
		{[]string{"Reboot", "Enroll key from disk", "Enroll hash from disk"}, 1, 0},
		{[]string{"TESTKIT, [PciRoot(0x0)/Pci(0x3,0x0)]", "OTHER"}, 0, 0},
		{[]string{"TESTKIT"}, 0, 0},
		{[]string{"EFI/", "boot/", "compose/", "isos/"}, 0, 0},
		{[]string{"../", "BOOT/", "compose/"}, 0, 2},
		{[]string{"../", "hash/", "keys/", "signed/"}, 0, 2},
		{[]string{"../", "other.cer", "vendor.cer"}, 0, 2},
		{[]string{"View key 0", "Continue"}, 0, 1},
		{[]string{"No", "Yes"}, 0, 1},
		{[]string{"Perform MOK management"}, 0, -1},
	} {
		got, err := target(mokScreen{items: tt.items}, tasks, tt.next, "TESTKIT")
		if err != nil || got != tt.want {
			t.Errorf("%q: got %d, %v; want %d", tt.items, got, err, tt.want)
		}
	}
	if got, _ := target(mokScreen{items: []string{"foo/", "../"}}, tasks, 0, "TESTKIT"); got != 1 {
		t.Errorf("a directory off the path: got %d, want ../", got)
	}
	// Recorded: the ESP's root has compose/ too; below EFI/ the listing has ../.
	if got, _ := target(mokScreen{items: []string{"../", "BOOT/", "compose/", "debian/"}}, tasks, 0, "TESTKIT"); got != 2 {
		t.Errorf("a directory off the path: got %d, want ../", got)
	}
}

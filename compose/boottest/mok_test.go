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
	if got := boxItems(screenText([]byte(lossy))); !slices.Equal(got, []string{"View key 0", "Continue"}) {
		t.Errorf("box with lost bytes: %q", got)
	}
	got := screenText([]byte("\x1b[5;10H\x1b[0m\x1b[30m\x1b[47m Yes \x1b[1;1H No"))
	if got != "\n Yes \n No" {
		t.Errorf("screenText: %q", got)
	}
}

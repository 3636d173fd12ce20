package boottest

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// replay feeds a serial log recorded from a real boot through a watcher,
// typing keys as soon as they are due (the recording already holds GRUB's
// answer to them).
func replay(t *testing.T, data []byte, c Case) Result {
	t.Helper()
	w := newWatcher(c, time.Now())
	w.selectKeys = MenuKeys
	var st stripper
	var lf lineFeed
	for i := 0; i < len(data) && !w.done; i += 333 { // odd chunks split escapes and lines
		end := min(i+333, len(data))
		lf.push(st.strip(data[i:end]), w.line)
		for w.nextKeys(time.Hour) != "" {
		}
	}
	var res Result
	w.verdict(&res)
	return res
}

func readLog(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplayBIOSPass(t *testing.T) {
	res := replay(t, readLog(t, "bios-tiny.serial"), Case{
		Entry:  Entry{Name: "tiny", Index: 0, Title: "Tiny (amd64)"},
		Marker: regexp.MustCompile(`ISOBOOT-OK name=tiny`)})
	if !res.Pass || res.Milestone != MilestonePayload {
		t.Fatalf("want pass at payload, got %+v", res)
	}
	var got []Milestone
	for _, m := range res.Times {
		got = append(got, m.Milestone)
	}
	want := []Milestone{MilestoneMenu, MilestoneBooting, MilestoneKernel, MilestonePayload}
	if len(got) != len(want) {
		t.Fatalf("milestones %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("milestones %v, want %v", got, want)
		}
	}
}

func TestReplayKernelBar(t *testing.T) {
	res := replay(t, readLog(t, "bios-tiny.serial"), Case{Entry: Entry{Name: "tiny", Title: "Tiny (amd64)"}})
	if !res.Pass || res.Milestone != MilestoneKernel || res.Bar != MilestoneKernel {
		t.Fatalf("without a marker the kernel banner is the bar: %+v", res)
	}
}

func TestReplayWrongEntry(t *testing.T) {
	// The recording never highlights entry 1: after retyping, the watcher
	// must refuse to press Enter.
	res := replay(t, readLog(t, "bios-tiny.serial"), Case{
		Entry: Entry{Name: "tinycfg", Index: 1, Title: "Tiny via its loopback.cfg"}})
	if res.Pass || res.Reason != ReasonWrongEntry {
		t.Fatalf("want wrong entry, got %+v", res)
	}
}

func TestReplaySecureBootSignature(t *testing.T) {
	log := readLog(t, "uefi-x64-sb-memtest.serial")
	c := Case{Entry: Entry{Name: "memtest", Index: 2}, Firmware: UEFISB,
		Marker: regexp.MustCompile(`Memtest86\+ *v?[0-9]`)}
	res := replay(t, log, c)
	if res.Pass || res.Reason != ReasonPayloadNotSigned || res.Detail != "error: bad shim signature." {
		t.Fatalf("want a signature failure, got %+v", res)
	}
	if !strings.Contains(res.Explanation, "kernel not signed by a trusted key") || !strings.Contains(res.Explanation, "MokManager") {
		t.Fatalf("explanation lacks the cause or the remedy: %q", res.Explanation)
	}
	c.ExpectFail = ReasonPayloadNotSigned
	res = replay(t, log, c)
	if !res.Pass || !res.Expected || !strings.HasPrefix(res.Explanation, "failed as expected") || res.Status() != "xfail" {
		t.Fatalf("want an expected failure, got %+v", res)
	}
}

// lines drives a watcher already past the menu with synthetic lines.
func lines(c Case, text ...string) Result {
	w := &watcher{c: c, start: time.Now(), reached: MilestoneBooting}
	for _, l := range text {
		w.line(l, false)
	}
	var res Result
	w.verdict(&res)
	return res
}

func TestFailureClassification(t *testing.T) {
	marker := regexp.MustCompile(`LIVE-OK`)
	tests := []struct {
		name   string
		text   []string
		pass   bool
		reason Reason
	}{
		{"grub error", []string{"error: file `/live/vmlinuz' not found."}, false, ReasonGRUBError},
		{"benign video warning", []string{"error: no suitable video mode found.", "Linux version 6.1", "LIVE-OK"}, true, ReasonNone},
		{"error after kernel is not GRUB's", []string{"Linux version 6.1", "foo: error: bar", "LIVE-OK"}, true, ReasonNone},
		{"panic", []string{"Linux version 6.1", "Kernel panic - not syncing: VFS"}, false, ReasonKernelPanic},
		{"live-boot gave up", []string{"Linux version 6.1", "Unable to find a medium containing a live file system"}, false, ReasonInitramfs},
		{"dracut gave up", []string{"Linux version 6.1", "dracut Warning: Could not boot."}, false, ReasonInitramfs},
		{"no marker yet", []string{"Linux version 6.1"}, false, ReasonNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := lines(Case{Marker: marker}, tt.text...)
			if res.Pass != tt.pass || res.Reason != tt.reason {
				t.Fatalf("got pass=%v reason=%q (%s), want pass=%v reason=%q", res.Pass, res.Reason, res.Detail, tt.pass, tt.reason)
			}
		})
	}
}

func TestMarkerIgnoredBeforeBooting(t *testing.T) {
	// Menu titles are drawn before the entry runs; a marker that matches a
	// title must not pass the case.
	w := &watcher{c: Case{Marker: regexp.MustCompile(`iPXE`)}, start: time.Now(), reached: MilestoneMenu, keysSent: true}
	w.line(" Tiny (amd64)     *iPXE      ", true)
	w.line("Booting `iPXE'", false)
	w.line("Booting `iPXE'", false) // the EFI console's copy
	if w.done || w.reached != MilestoneBooting {
		t.Fatalf("marker matched in menu or booting line: done=%v reached=%s", w.done, w.reached)
	}
	w.line("iPXE initialising devices...", false)
	if !w.done || !w.pass {
		t.Fatal("marker after booting not seen")
	}
}

func TestAccessDeniedBeforeMenu(t *testing.T) {
	w := &watcher{c: Case{}, start: time.Now()}
	w.line(`BdsDxe: failed to load Boot0001 "UEFI Misc Device" from PciRoot(0x0): Access Denied`, false)
	var res Result
	w.verdict(&res)
	if res.Reason != ReasonBootloaderNotSigned || res.Milestone != MilestoneFirmware {
		t.Fatalf("got %+v", res)
	}
}

func TestUnexpectedPass(t *testing.T) {
	res := lines(Case{ExpectFail: ReasonPayloadNotSigned}, "Linux version 6.1")
	if res.Pass || res.Reason != ReasonUnexpectedPass {
		t.Fatalf("an entry expected to fail that boots must fail: %+v", res)
	}
}

func TestStripperAcrossChunks(t *testing.T) {
	var s stripper
	in := "\x1b[5;3H*Tiny\x1b[m  x\r\nnext\x1b"
	var out []byte
	for i := 0; i < len(in); i++ { // byte by byte: every split point
		out = append(out, s.strip([]byte{in[i]})...)
	}
	out = append(out, s.strip([]byte("[0mend"))...)
	if got, want := string(out), "*Tiny  x\nnextend"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestLineFeedPartial(t *testing.T) {
	var lf lineFeed
	var got []string
	fn := func(l string, partial bool) {
		if partial {
			l = "~" + l
		}
		got = append(got, l)
	}
	lf.push([]byte("a\nlog"), fn)
	lf.push([]byte("in: "), fn)
	lf.push([]byte("\n"), fn)
	if want := "a ~log ~login:  login: "; strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}

// TestLostEnterRetypedTwice: after the selection's Enter, a console silent
// for enterLost gets Enter again, twice at most, and never before.
func TestLostEnterRetypedTwice(t *testing.T) {
	w := &watcher{reached: MilestoneBooting, lastEnter: time.Now()}
	if k := w.nextKeys(enterLost + time.Second); k != "" {
		t.Fatalf("typed %q right after Enter", k)
	}
	for i := 0; i < 2; i++ {
		w.lastEnter = time.Now().Add(-enterLost - time.Second)
		if k := w.nextKeys(enterLost + time.Second); k != "\r" {
			t.Fatalf("retry %d: typed %q, want Enter", i+1, k)
		}
	}
	w.lastEnter = time.Now().Add(-enterLost - time.Second)
	if k := w.nextKeys(enterLost + time.Second); k != "" {
		t.Fatalf("a third retry typed %q", k)
	}
	w = &watcher{reached: MilestoneKernel, lastEnter: time.Now().Add(-time.Hour)}
	if k := w.nextKeys(time.Hour); k != "" {
		t.Fatalf("typed %q after the kernel started", k)
	}
}

// TestSeekFindsEntryDespiteLostKeys drives a simulated GRUB menu that drops
// keys: the seek watches the highlight and still boots the wanted entry,
// above or below where the menu starts.
func TestSeekFindsEntryDespiteLostKeys(t *testing.T) {
	titles := []string{"Tiny", "Tiny cfg", "memtest86+", "iPXE", "live-boot", "dracut", "Reboot"}
	for _, tc := range []struct {
		want  string
		start int
		lose  func(n int) bool
	}{
		{"dracut", 0, func(n int) bool { return n%2 == 1 }},       // every other key lost
		{"Tiny", 3, func(n int) bool { return n%3 == 0 }},         // target above the start
		{"Reboot", 0, func(n int) bool { return n > 2 && n < 9 }}, // a burst of losses
	} {
		w := &watcher{c: Case{Entry: Entry{Name: "x", Title: tc.want}}, start: time.Now()}
		w.line("Use the ^ and v keys to select which entry is highlighted.", false)
		idx, n := tc.start, 0
		for !w.done && n < 200 {
			k := w.nextKeys(time.Second)
			if k == "\r" {
				break
			}
			n++
			if !tc.lose(n) {
				switch {
				case k == "^" && idx > 0:
					idx--
				case k == "v" && idx < len(titles)-1:
					idx++
				}
			}
			w.line("      *"+titles[idx]+"      ", false)
		}
		if w.done || titles[idx] != tc.want || w.reached != MilestoneBooting {
			t.Errorf("want %q: ended on %q after %d keys (done %v, reason %q)", tc.want, titles[idx], n, w.done, w.reason)
		}
	}
}

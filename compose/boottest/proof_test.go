package boottest

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFamilyDefaultProofs boots the fake QEMU's payloads under each proof:
// a payload passes by its own proof only (on serial or on the VGA screen),
// the result says which proof and what matched, a menu title never proves
// anything, and expect: overrides the family default.
func TestFamilyDefaultProofs(t *testing.T) {
	for _, tc := range []struct {
		name, payload, menu string
		proof               Proof
		marker              string
		pass                bool
		source              ProofSource
		matched, on         string
	}{
		{name: "ipxe", payload: "ipxe", proof: ProofIPXE, pass: true, source: ProofFamily, matched: "iPXE initialising devices...ok", on: "serial"},
		{name: "memtest on the screen", payload: "memtest-vga", proof: ProofMemtest, pass: true, source: ProofFamily, matched: "Memtest86+ v6.10", on: "screen"},
		{name: "other payload", payload: "other", proof: ProofPayload, pass: true, source: ProofFamily, matched: "Something of its own 1.0", on: "serial"},
		{name: "a payload that draws", payload: "drawn", proof: ProofPayload, pass: true, source: ProofFamily, matched: "Drawn tool v2.0", on: "serial"},
		{name: "linux", payload: "linux", proof: ProofKernel, pass: true, source: ProofKernelBanner, matched: "Linux version 6.1.0-fake", on: "serial"},
		{name: "expect wins", payload: "other", proof: ProofIPXE, marker: `of its own`, pass: true, source: ProofExpect, matched: "of its own 1.0", on: "serial"},
		{name: "a kernel is not ipxe", payload: "linux", proof: ProofIPXE, source: ProofFamily},
		{name: "memtest on the screen is not a kernel", payload: "memtest-vga", proof: ProofKernel, source: ProofKernelBanner},
		{name: "a title is not a proof", payload: "none", menu: "iPXE 1.0.0 network boot", proof: ProofIPXE, source: ProofFamily},
		{name: "grub's words are not the payload's", payload: "none", menu: "Memtest86+ v6.10", proof: ProofPayload, source: ProofFamily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, runs := fakeRunner(t, AccelTCG, "FAKEQEMU_PAYLOAD="+tc.payload, "FAKEQEMU_MENU="+tc.menu)
			c := fakeCase()
			c.Proof, c.Timeout = tc.proof, 3*time.Second
			if tc.marker != "" {
				c.Marker = regexp.MustCompile(tc.marker)
			}
			res, err := r.Boot(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			if res.Pass != tc.pass || res.Proof != tc.source || !strings.HasPrefix(res.Matched, tc.matched) || res.MatchedOn != tc.on {
				t.Fatalf("want pass=%t by %s with %q on %q, got %+v", tc.pass, tc.source, tc.matched, tc.on, res)
			}
			if !tc.pass && res.Reason != ReasonTimeout {
				t.Errorf("want a timeout, got %s", res.Reason)
			}
			if tc.pass && res.Duration > 3*time.Second {
				t.Errorf("the case took %s: it must end as soon as its proof shows", res.Duration)
			}
			checkGone(t, runs)
		})
	}
}

// TestScreenLogAndJSON: a SeaBIOS boot keeps every screen it showed, and
// JSON carries the proof fields.
func TestScreenLogAndJSON(t *testing.T) {
	r, _ := fakeRunner(t, AccelTCG, "FAKEQEMU_PAYLOAD=memtest-vga")
	c := fakeCase()
	c.Proof = ProofMemtest
	res, err := r.Boot(context.Background(), c)
	if err != nil || !res.Pass {
		t.Fatalf("%+v %v", res, err)
	}
	b, err := os.ReadFile(res.ScreenLog)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SeaBIOS (version fake)", "Use the ^ and v keys", "Memtest86+ v6.10", "Status: Testing"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("screen log lacks %q:\n%s", want, b)
		}
	}
	j, _ := json.Marshal(res)
	for _, want := range []string{`"proof":"family default"`, `"payload":"memtest86+"`, `"matched":"Memtest86+ v6.10`, `"matched_on":"screen"`, `"screen_log":"`} {
		if !strings.Contains(string(j), want) {
			t.Errorf("JSON lacks %s: %s", want, j)
		}
	}
	if res.Times[0].Milestone != MilestoneFirmware {
		t.Errorf("SeaBIOS's banner on the screen is the firmware milestone: %+v", res.Times)
	}
}

func TestPayloadOutput(t *testing.T) {
	for line, want := range map[string]bool{
		"Booting `Tool'":           false,
		"Loading Linux 6.1 ...":    false,
		"error: image not loaded.": false,
		"file path: /ACPI(a0341d0,0)/PCI(0,2)/HD(2,1000,21000,ebd2cea7c2f02a4b,2,2)/File": false,
		"(\\EFI\\BOOT)/File(\\EFI\\BOOT)/File(BOOTX64.EFI)":                               false,
		"/File(BOOTX64.EFI)/EndEntire":                                                    false,
		// as GRUB's serial and OVMF's console cut them, seen with an unknown EFI payload
		"file path: file path: /ACPI(a0341d0,0)/ACPI(a0341d0,0)/PCI(0,2)/PCI(0,2)/HD(1,800,21000,fa951afd4a64ee4a,2,2)/HD(1,800,21000,fa951afd4a64ee4a,2,2)/File(": false,
		`\EFI\BOOT)/File(\E`: false,
		"iPXE 1.21.1 (g3ae83) -- Open Source Network Boot Firmware": true,
		"BdsDxe: starting Boot0001":                                 false,
		"  *My tool":                                                false, // the entry's title
		"--":                                                        false,
		"UEFI Interactive Shell v2.2":                               true,
		"Something of its own 1.0":                                  true,
	} {
		if got := payloadOutput(line, "My tool"); got != want {
			t.Errorf("%q: payload output %t, want %t", line, got, want)
		}
	}
}

func TestParseProof(t *testing.T) {
	for _, p := range []Proof{ProofKernel, ProofMemtest, ProofIPXE, ProofPayload} {
		if got, err := ParseProof(string(p)); err != nil || got != p {
			t.Errorf("%q: %v %v", p, got, err)
		}
	}
	if _, err := ParseProof("grub"); err == nil {
		t.Error("an unknown proof must be an error")
	}
}

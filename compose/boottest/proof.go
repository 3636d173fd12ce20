package boottest

import (
	"fmt"
	"regexp"
	"strings"
)

// Proof is what shows, without the manifest's expect:, that a payload
// booted: the family's default proof. The planner (compose, from its
// detection of the ISO) names it; the runner judges it.
type Proof string

const (
	// ProofKernel: Linux's banner, "Linux version …" (Linux families).
	ProofKernel Proof = ""
	// ProofMemtest: memtest86+'s own screen, its header or test progress.
	ProofMemtest Proof = "memtest86+"
	// ProofIPXE: iPXE's banner; iPXE that finds no network and returns to
	// GRUB has booted.
	ProofIPXE Proof = "ipxe"
	// ProofPayload: the first output that is the payload's, not GRUB's or
	// the firmware's (an EFI or BIOS payload compose does not know).
	ProofPayload Proof = "payload output"
)

// ParseProof checks a proof name a planner gives ("" is the kernel banner).
func ParseProof(s string) (Proof, error) {
	switch p := Proof(s); p {
	case ProofKernel, ProofMemtest, ProofIPXE, ProofPayload:
		return p, nil
	}
	return "", fmt.Errorf("unknown proof %q (want memtest86+, ipxe, payload output or empty for the kernel banner)", s)
}

// ProofSource says which proof a result was judged by.
type ProofSource string

const (
	ProofExpect       ProofSource = "expect"         // the manifest's expect: (Case.Marker)
	ProofFamily       ProofSource = "family default" // the payload's own proof (Case.Proof)
	ProofKernelBanner ProofSource = "kernel banner"  // Linux's banner
)

// source is the proof c is judged by.
func (c Case) source() ProofSource {
	switch {
	case c.Marker != nil:
		return ProofExpect
	case c.Proof == ProofKernel:
		return ProofKernelBanner
	}
	return ProofFamily
}

// proofPatterns are the family defaults that are a pattern: memtest86+
// draws a header ("Memtest86+ v6.10  <CPU>") and a status block
// ("CLK/Temp:", "Status: Testing", "Pass  4%"); iPXE prints "iPXE
// initialising devices...ok", "iPXE 1.0.0+… -- Open Source Network Boot
// Firmware", and, without a network, "No more network devices" before it
// returns. Menu titles never match: the runner matches only what shows
// after GRUB started the entry, and GRUB's titles carry no "v" before the
// version ("Memtest86+ 6.10 (UEFI)").
var proofPatterns = map[Proof]*regexp.Regexp{
	ProofMemtest: regexp.MustCompile(`Memtest86\+ v[0-9]|CLK/Temp:|Status: (Init|Testing|Pass)|Pass +[0-9]+%`),
	ProofIPXE:    regexp.MustCompile(`iPXE initialising devices|iPXE [0-9]+\.[0-9]+\.[0-9]+|Open Source Network Boot Firmware|No more network devices|Press Ctrl-B for the iPXE command line`),
}

// reNotPayload matches what GRUB and the firmware print after an entry
// started and before its payload: GRUB's messages and menu, OVMF's boot
// manager, SeaBIOS.
var reNotPayload = regexp.MustCompile("Booting `|Booting a command list|^Loading |Welcome to GRUB|error: |" +
	`Press any key to continue|GNU GRUB|BdsDxe:|SeaBIOS|Booting from |^Start PXE|` +
	`keys to select which entry is highlighted|Press enter to boot|before booting or|previous menu|highlighted entry will be executed`)

// reDevicePath is an EFI device path as GRUB's chainloader prints it
// ("file path: /ACPI(a0341d0,0)/PCI(0,2)/HD(2,…)/File(BOOTX64.EFI)/EndEntire"),
// on both consoles, cut into lines anywhere ("…/File(" and "\EFI\BOOT)/File(\E").
var reDevicePath = regexp.MustCompile(`file path:|EndEntire|[A-Za-z]*\([^()]*\)?|^[^()]*\)|/[A-Za-z]+$|[/\\]`)

// payloadOutput reports whether a line after the entry started is the
// payload's own output: not GRUB's or the firmware's, not a device path,
// not the entry's title, and with a word in it.
func payloadOutput(line, title string) bool {
	line = strings.TrimSpace(line)
	if reNotPayload.MatchString(line) || (title != "" && strings.Contains(line, title)) {
		return false
	}
	if strings.TrimSpace(reDevicePath.ReplaceAllString(line, "")) == "" {
		return false
	}
	alnum := 0
	for _, r := range line {
		if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' {
			alnum++
		}
	}
	return alnum >= 3
}

package boottest

import (
	"regexp"
	"time"
)

// Milestone is how far a boot got; later milestones imply earlier ones.
type Milestone int

const (
	MilestoneNone     Milestone = iota // nothing recognisable on serial
	MilestoneFirmware                  // UEFI firmware printed on serial (SeaBIOS is silent: implied by the menu)
	MilestoneMenu                      // GRUB menu drawn
	MilestoneBooting                   // GRUB started the chosen entry
	MilestoneKernel                    // Linux printed its version banner
	MilestonePayload                   // the entry's own marker appeared
)

var milestoneNames = [...]string{"none", "firmware", "grub menu", "booting entry", "kernel started", "payload marker"}

func (m Milestone) String() string {
	if m < 0 || int(m) >= len(milestoneNames) {
		return "unknown"
	}
	return milestoneNames[m]
}

// MarshalText makes JSON carry the name, not the number.
func (m Milestone) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Reason classifies why a boot failed.
type Reason string

const (
	ReasonNone                Reason = ""
	ReasonTimeout             Reason = "timeout"
	ReasonExited              Reason = "stopped early"            // the VM powered off or QEMU exited before the bar
	ReasonQEMU                Reason = "qemu failed"              // QEMU would not start or run
	ReasonBootloaderNotSigned Reason = "bootloader not signed"    // firmware: Access Denied
	ReasonPayloadNotSigned    Reason = "kernel not signed"        // shim: bad shim signature
	ReasonSecureBootPolicy    Reason = "secure boot policy"       // GRUB refused a command under Secure Boot
	ReasonGRUBError           Reason = "grub error"               // GRUB printed "error: "
	ReasonKernelPanic         Reason = "kernel panic"             // Linux panicked
	ReasonInitramfs           Reason = "root not found"           // the initramfs gave up finding its root
	ReasonNoBootDevice        Reason = "no bootable device"       // firmware found nothing to boot
	ReasonWrongEntry          Reason = "wrong entry"              // GRUB booted another entry than asked
	ReasonNoMenu              Reason = "menu not shown"           // cannot select an entry: no menu on serial
	ReasonUnexpectedPass      Reason = "booted, failure expected" // an entry expected to fail booted
	ReasonEnrolment           Reason = "enrolment failed"         // MokManager did not enrol the case's keys
	ReasonStalled             Reason = "stalled under kvm"        // nothing new on serial or screen for stallAfter under KVM
)

// explanations say what a reason means to a user and what to do about it.
var explanations = map[Reason]string{
	ReasonTimeout:             "nothing decisive appeared on the serial console or the screen before the deadline; the logs show how far it got",
	ReasonExited:              "the machine stopped before reaching the bar (powered off, rebooted or crashed)",
	ReasonQEMU:                "QEMU could not run the guest (its own message is quoted; its full output is in the log directory); with a broken KVM, use --accel tcg",
	ReasonBootloaderNotSigned: "the firmware refused the bootloader: it is not signed by a key in the firmware's db; use shim + a signed GRUB, or turn Secure Boot off",
	ReasonPayloadNotSigned:    "kernel not signed by a trusted key: shim trusts Debian's and Microsoft's keys only; enroll the vendor's key with MokManager (mmx64.efi on the stick), or turn Secure Boot off",
	ReasonSecureBootPolicy:    "GRUB refused a command that Secure Boot forbids (e.g. insmod from disk); the menu may use only modules built into the signed GRUB",
	ReasonGRUBError:           "GRUB reported an error running the entry (missing file, bad path or unknown command); see the line quoted",
	ReasonKernelPanic:         "the kernel started but panicked (often: its initramfs could not find or mount the ISO's root filesystem)",
	ReasonInitramfs:           "the kernel started but its initramfs did not find or mount the live root: check the ISO path argument (findiso=, iso-scan/filename=, img_loop=) and the label/UUID arguments",
	ReasonNoBootDevice:        "the firmware found nothing bootable on the disk: the bootloader is missing for this firmware",
	ReasonWrongEntry:          "GRUB booted an entry other than the one selected; the menu order differs from what the test expected",
	ReasonNoMenu:              "the GRUB menu never appeared on serial; the kit needs console serial|both and a menu timeout above 0",
	ReasonUnexpectedPass:      "the entry was expected to fail here but booted; update the expectation",
	ReasonStalled:             "under KVM the guest showed nothing new on serial or screen for a long time: KVM does not run this firmware's guests here (--accel auto runs such a case again under TCG); use --accel tcg",
	ReasonEnrolment:           "the entry needs a key the stick carries, but driving MokManager over the serial console to enrol it failed (its serial log is in the log directory, <firmware>-mokmanager.log); enrol it by hand with compose boot",
}

// Explain returns the user-facing explanation of a reason.
func Explain(r Reason) string { return explanations[r] }

// Entry is one GRUB menu entry as the test selects it.
type Entry struct {
	Name  string // short name for tables and log files ([a-z0-9._-])
	Index int    // 0-based position among the top-level menu entries
	Title string // menu title; when set, the test checks GRUB booted this entry
}

// Case is one boot: an entry on a firmware, what proves success and what
// failure, if any, is the expected outcome.
type Case struct {
	Entry    Entry
	Firmware Variant
	// Marker proves the payload ran (e.g. a login prompt: the manifest's
	// expect:); nil means Proof, the family's default, is the bar. Both are
	// matched only after GRUB started the entry, so menu titles never match.
	Marker *regexp.Regexp
	// Proof is the payload's own proof when there is no Marker: the kernel
	// banner (ProofKernel, the zero value), memtest86+'s screen, iPXE's
	// banner, or any output of an unknown payload.
	Proof Proof
	// ExpectFail, when set, makes the case pass only if the boot fails with
	// this reason (unsigned memtest86+ under Secure Boot: ReasonPayloadNotSigned).
	ExpectFail Reason
	Timeout    time.Duration // 0 means DefaultTimeout
	// Enrol lists the ESP paths of the kit's certificates that make this case boot under
	// Secure Boot once MokManager enrolled them. RunAll boots the case as it is first; when
	// shim refuses it (ReasonPayloadNotSigned), RunAll enrols them and boots it again.
	Enrol []string
}

// DefaultTimeout bounds one boot. Under TCG a live system takes minutes.
const DefaultTimeout = 5 * time.Minute

// MilestoneTime records when a milestone was first seen, from QEMU's start.
type MilestoneTime struct {
	Milestone Milestone     `json:"milestone"`
	At        time.Duration `json:"at_ns"`
}

// Result is the outcome of one Case.
type Result struct {
	Entry       string          `json:"entry"`
	Firmware    Variant         `json:"firmware"`
	Accel       Accel           `json:"accel"`               // accelerator of the boot reported
	KVMError    string          `json:"kvm_error,omitempty"` // why TCG ran although auto would use KVM: KVM failed its probe, QEMU's message, or a stall
	Pass        bool            `json:"pass"`
	Proof       ProofSource     `json:"proof"`                      // what counts as booted: expect, family default or kernel banner
	Payload     Proof           `json:"payload,omitempty"`          // the family default's payload: memtest86+, ipxe, payload output
	Matched     string          `json:"matched,omitempty"`          // the text that proved the boot
	MatchedOn   string          `json:"matched_on,omitempty"`       // where it showed: serial or screen
	Expected    bool            `json:"expected_failure,omitempty"` // failed, as the case expected
	Milestone   Milestone       `json:"milestone"`                  // furthest milestone reached
	Bar         Milestone       `json:"bar"`                        // milestone that counts as success
	Duration    time.Duration   `json:"duration_ns"`
	Reason      Reason          `json:"reason,omitempty"`
	Detail      string          `json:"detail,omitempty"` // the serial line or error behind Reason
	Explanation string          `json:"explanation,omitempty"`
	Log         string          `json:"log,omitempty"`        // full serial log
	ScreenLog   string          `json:"screen_log,omitempty"` // every VGA text screen it showed (SeaBIOS)
	Times       []MilestoneTime `json:"milestones,omitempty"`
	Enrolment   *Enrolled       `json:"enrolment,omitempty"` // what RunAll did about Secure Boot keys
}

// Enrolled tells, for one case on a Secure Boot machine, whether shim refused it as it
// was (Needed) and whether RunAll enrolled the kit's keys with MokManager and booted it
// again (Done); the Result is then the boot after enrolment.
type Enrolled struct {
	Needed    bool     `json:"needed"`
	Done      bool     `json:"done"`
	Keys      []string `json:"keys"`                 // the stick's certificates (ESP paths) that make the case boot
	Before    Reason   `json:"before,omitempty"`     // how the boot before enrolment ended
	BeforeLog string   `json:"before_log,omitempty"` // its serial log
	Error     string   `json:"error,omitempty"`      // why MokManager did not enrol them
}

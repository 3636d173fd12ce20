package device

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnsafeTarget is matched (errors.Is) by every refusal from Check and
// Write, so the CLI can pick its exit code and hint.
var ErrUnsafeTarget = errors.New("unsafe target")

// ReasonCode names one refusal rule.
type ReasonCode string

// The refusal rules. Only NotRemovable and TooLarge yield to Force.
const (
	NotBlockDevice ReasonCode = "not-block-device"
	IsPartition    ReasonCode = "partition"
	NotRemovable   ReasonCode = "not-removable"
	Mounted        ReasonCode = "mounted"
	SystemDisk     ReasonCode = "system-disk"
	ActiveSwap     ReasonCode = "swap"
	Member         ReasonCode = "member" // LVM PV, RAID member, dm/md holder
	ReadOnly       ReasonCode = "read-only"
	NoMedium       ReasonCode = "no-medium"
	TooSmall       ReasonCode = "too-small"
	TooLarge       ReasonCode = "too-large"
	Busy           ReasonCode = "busy"    // the exclusive open failed
	Changed        ReasonCode = "changed" // the path leads to another device than the one checked
)

// Reason is one refusal with the text shown to the user.
type Reason struct {
	Code ReasonCode `json:"code"`
	Text string     `json:"text"`
	// Overridable is true when CheckOptions.Force lifts this reason.
	Overridable bool `json:"overridable"`
}

func (r Reason) String() string { return r.Text }

// UnsafeTargetError is what Check returns: the device and every reason that
// applies, in a stable order.
type UnsafeTargetError struct {
	Device  string
	Reasons []Reason
}

func (e *UnsafeTargetError) Error() string {
	texts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		texts[i] = r.Text
	}
	return fmt.Sprintf("refusing to write %s: %s", e.Device, strings.Join(texts, "; "))
}

// Is makes errors.Is(err, ErrUnsafeTarget) true.
func (e *UnsafeTargetError) Is(target error) bool { return target == ErrUnsafeTarget }

// Has reports whether the error carries a reason with this code.
func (e *UnsafeTargetError) Has(code ReasonCode) bool {
	for _, r := range e.Reasons {
		if r.Code == code {
			return true
		}
	}
	return false
}

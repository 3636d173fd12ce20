package boottest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"
)

// kvmProbeImage is a disk image SeaBIOS boots: it runs real mode with BIOS
// disk reads, 32-bit protected mode, long mode with paging and SSE, and
// timer interrupts, a fixed amount of work in each, and prints
// kvmProbeDone on COM1 at the end (source: kvmprobe/probe.S).
//
//go:embed kvmprobe/probe.img
var kvmProbeImage []byte

const kvmProbeDone = "compose-kvm-probe: done"

// reProbeStep is the probe image's report of each mode it reached.
var reProbeStep = regexp.MustCompile(`compose-kvm-probe: ([a-z ]+)`)

// kvmKind groups the machines KVM runs alike, so that one probe answers
// for all of them: SeaBIOS, OVMF x64 (with or without Secure Boot), OVMF
// ia32, AAVMF.
func kvmKind(f Variant) string {
	switch f {
	case BIOS:
		return "seabios"
	case UEFI, UEFISB:
		return "ovmf-x64"
	case UEFIIA32:
		return "ovmf-ia32"
	}
	return "aavmf"
}

// probeTimeout bounds one probe. Measured on a loaded 2-core host (load
// 7–12): under TCG the SeaBIOS probe prints its marker after 0.6 s and OVMF
// x64 reaches BdsDxe after 15 s; a KVM that emulates instead of running
// the guest took 8 s for SeaBIOS to reach the boot sector and did not
// finish the real-mode work; a KVM that fails OVMF does so in 0.2 s. A
// working KVM needs a fraction of the TCG time.
var probeTimeout = map[string]time.Duration{
	"seabios":   8 * time.Second,
	"ovmf-x64":  15 * time.Second,
	"ovmf-ia32": 15 * time.Second,
	"aavmf":     15 * time.Second,
}

// kvmTrust remembers, for this process, whether KVM runs each kind of
// firmware: "" proven (its probe passed), else why not (its probe failed,
// or a boot under KVM failed or stalled all the same). The host does not
// change between runs of one process, so each kind is probed once.
var kvmTrust = struct {
	sync.Mutex
	why map[string]string
}{why: map[string]string{}}

func trustKey(f Variant, files Files) string {
	return kvmKind(f) + "\x00" + files.QEMU + "\x00" + kvmDevice
}

// chooseAccel is the accelerator m's boot starts with: KVM or TCG as asked,
// and under AccelAuto KVM only where it opens for the guest's architecture
// and passed its probe; the Probe's Why says why auto chose TCG although
// /dev/kvm opens. The error is ctx's, or a missing probe prerequisite.
func chooseAccel(ctx context.Context, m VM, f Files) (Accel, Probe, error) {
	switch m.Accel {
	case AccelKVM, AccelTCG:
		return m.Accel, Probe{}, nil
	}
	if !kvmUsable(m.Firmware) {
		return AccelTCG, Probe{}, nil
	}
	p, err := kvmVerdict(ctx, m.Firmware, f)
	if err != nil || p.Why != "" {
		return AccelTCG, p, err
	}
	return AccelKVM, p, nil
}

// Probe is the outcome of KVM's probe for one kind of firmware.
type Probe struct {
	Kind string        // seabios, ovmf-x64, ovmf-ia32, aavmf
	Why  string        // "" when KVM passed, else why it is not used
	Took time.Duration // how long this probe took; 0 when the answer was known
}

// kvmVerdict probes KVM for f's kind unless this process already knows the
// answer.
func kvmVerdict(ctx context.Context, f Variant, files Files) (Probe, error) {
	kvmTrust.Lock()
	defer kvmTrust.Unlock()
	key := trustKey(f, files)
	if why, ok := kvmTrust.why[key]; ok {
		return Probe{Kind: kvmKind(f), Why: why}, nil
	}
	start := time.Now()
	why, err := probeKVM(ctx, f, files)
	if err != nil {
		return Probe{}, err
	}
	kvmTrust.why[key] = why
	return Probe{Kind: kvmKind(f), Why: why, Took: time.Since(start)}, nil
}

// distrustKVM records that KVM failed a boot of f's kind although it passed
// the probe: the process's later boots of that kind run under TCG.
func distrustKVM(f Variant, files Files, why string) {
	kvmTrust.Lock()
	defer kvmTrust.Unlock()
	if key := trustKey(f, files); kvmTrust.why[key] == "" {
		kvmTrust.why[key] = why
	}
}

// forgetKVM drops what this process learnt about KVM (tests).
func forgetKVM() {
	kvmTrust.Lock()
	defer kvmTrust.Unlock()
	clear(kvmTrust.why)
}

// probeKVM boots the probe guest for f's kind under KVM: SeaBIOS boots
// kvmProbeImage; OVMF and AAVMF, which run in long mode with paging
// themselves, boot without a disk until their boot manager's "BdsDxe:"
// line. It returns "" when the marker showed within probeTimeout, else why
// KVM is not used.
func probeKVM(ctx context.Context, f Variant, files Files) (string, error) {
	kind := kvmKind(f)
	limit := probeTimeout[kind]
	m := VM{Firmware: f, Accel: AccelKVM, Memory: 256}
	want := "BdsDxe:"
	if f == BIOS {
		img, err := writeProbeImage()
		if err != nil {
			return "", err
		}
		defer os.Remove(img)
		m.Image, want = img, kvmProbeDone
	}
	pctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	g, err := start(pctx, m, files, GuestOptions{})
	var qe *QEMUError
	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case errors.As(err, &qe):
		return fmt.Sprintf("KVM failed its %s probe: %s", kind, qe.Detail), nil
	case err != nil:
		return "", err
	}
	defer g.Close()
	out, err := g.Expect(pctx, Expect{Want: []string{want}})
	switch {
	case err == nil:
		return "", nil
	case ctx.Err() != nil:
		return "", ctx.Err()
	case errors.As(err, &qe):
		return fmt.Sprintf("KVM failed its %s probe: %s", kind, qe.Detail), nil
	}
	return fmt.Sprintf("KVM's %s probe did not reach %q within %s (%s)", kind, want, limit, probeProgress(out)), nil
}

// probeProgress says how far a probe got: the last mode the probe image
// reported, else how much the firmware printed.
func probeProgress(out string) string {
	if all := reProbeStep.FindAllStringSubmatch(out, -1); all != nil {
		return "it got as far as " + all[len(all)-1][1]
	}
	if out == "" {
		return "nothing on serial"
	}
	return fmt.Sprintf("%d bytes on serial", len(out))
}

func writeProbeImage() (string, error) {
	f, err := os.CreateTemp("", "compose-kvm-probe-*.img")
	if err != nil {
		return "", fmt.Errorf("kvm probe: %w", err)
	}
	_, err = f.Write(kvmProbeImage)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("kvm probe: %w", err)
	}
	return f.Name(), nil
}

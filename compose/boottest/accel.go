package boottest

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// Accel is the accelerator QEMU runs a guest with.
type Accel string

const (
	// AccelAuto uses KVM where it is proven to run guests of the firmware's
	// kind (see kvmVerdict) and TCG elsewhere; a boot that KVM fails all the
	// same (QEMU reports an internal error, or the guest stalls) runs again
	// under TCG, and that kind stays on TCG from then on.
	AccelAuto Accel = "auto"
	AccelKVM  Accel = "kvm" // hardware virtualisation (/dev/kvm), same CPU family only
	AccelTCG  Accel = "tcg" // QEMU's emulator: everywhere, slowly
)

// ParseAccel turns a user's word (as in --accel) into an Accel.
func ParseAccel(s string) (Accel, error) {
	switch a := Accel(s); a {
	case AccelAuto, AccelKVM, AccelTCG:
		return a, nil
	case "":
		return AccelAuto, nil
	}
	return "", fmt.Errorf("unknown accelerator %q (want auto, kvm or tcg)", s)
}

// reQEMUFatal matches what QEMU prints on stderr when the guest cannot run
// although QEMU keeps going (a KVM internal error pauses the guest and QEMU
// waits forever) or before it gives up.
var reQEMUFatal = regexp.MustCompile(`KVM internal error|emulation failure|kvm run failed|failed to initialize kvm|Could not access KVM|not supported by this hypervisor`)

// reQEMUChatter is what QEMU says on stderr in every headless run: not why
// it stopped.
var reQEMUChatter = regexp.MustCompile(`info: QEMU waiting for connection|warning: host doesn't support requested feature`)

// stderrWatch copies QEMU's stderr to its log and spots fatal lines: the
// first one closes fatal, so a boot ends in a second instead of at its
// deadline, with QEMU's own words in the result.
type stderrWatch struct {
	log   interface{ Write([]byte) (int, error) }
	fatal chan struct{}
	mu    sync.Mutex
	tail  string   // unfinished line
	lines []string // fatal lines so far
	last  []string // last lines, whatever they say
}

func newStderrWatch(log interface{ Write([]byte) (int, error) }) *stderrWatch {
	return &stderrWatch{log: log, fatal: make(chan struct{})}
}

func (s *stderrWatch) Write(b []byte) (int, error) {
	s.log.Write(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tail += string(b)
	for {
		i := strings.IndexByte(s.tail, '\n')
		if i < 0 {
			break
		}
		l := strings.TrimSpace(s.tail[:i])
		s.tail = s.tail[i+1:]
		if l == "" {
			continue
		}
		if !reQEMUChatter.MatchString(l) {
			s.last = append(s.last, l)
		}
		if len(s.last) > 3 {
			s.last = s.last[1:]
		}
		if reQEMUFatal.MatchString(l) {
			if len(s.lines) == 0 {
				close(s.fatal)
			}
			s.lines = append(s.lines, l)
		}
	}
	return len(b), nil
}

// message is QEMU's fatal lines ("KVM internal error. Suberror: 1 …
// emulation failure"), else its last lines.
func (s *stderrWatch) message() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.lines
	if len(l) == 0 {
		l = s.last
	}
	if len(l) > 4 {
		l = l[:4]
	}
	return strings.Join(l, " … ")
}

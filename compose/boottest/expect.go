package boottest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Expect is what Guest.Expect waits for on the serial console. Patterns
// match the output as read, carriage returns dropped (terminal escapes
// stay).
type Expect struct {
	Want []string       // every one must have appeared
	Fail *regexp.Regexp // its first match ends the wait with ErrFailLine
	Keys []KeyRule      // keys to type when a pattern shows
}

// KeyRule types Send when On's last match ends near the end of the output
// (within tailKeys bytes: the console shows it last, so the guest waits for
// a key), and again every Every while that stays so (a key typed while the
// guest was still drawing can be lost); Every 0 types it once.
type KeyRule struct {
	On    *regexp.Regexp
	Send  string
	Every time.Duration
}

// tailKeys is how near the end of the output a KeyRule's match must be.
const tailKeys = 2048

// Expect reads the serial console until every Want has appeared (nil
// error), a Fail match (ErrFailLine; Want is checked first, so a read that
// brings both counts as reached), QEMU exits or reports that it cannot run
// the guest (*QEMUError), or ctx ends. It returns the whole output read,
// carriage returns dropped.
func (g *Guest) Expect(ctx context.Context, e Expect) (string, error) {
	stop := make(chan struct{})
	defer close(stop)
	in := g.chunks(stop)
	var out strings.Builder
	typed := make([]time.Time, len(e.Keys))
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-in:
			if !ok {
				g.exited(2 * time.Second)
				return out.String(), &QEMUError{"the serial console closed before " + fmt.Sprintf("%q", e.Want) + " showed: " + g.Failure()}
			}
			out.WriteString(strings.ReplaceAll(string(b), "\r", ""))
		case <-g.Fatal():
			return out.String(), &QEMUError{g.Failure()}
		case <-ctx.Done():
			return out.String(), fmt.Errorf("%q not on the serial console: %w", e.Want, ctx.Err())
		case <-tick.C:
		}
		s := out.String()
		if e.reached(s) {
			return s, nil
		}
		if e.Fail != nil {
			if m := e.Fail.FindString(s); m != "" {
				return s, fmt.Errorf("%w: %q", ErrFailLine, m)
			}
		}
		for i, k := range e.Keys {
			loc := k.On.FindAllStringIndex(s, -1)
			if loc == nil || len(s)-loc[len(loc)-1][1] >= tailKeys {
				continue
			}
			if typed[i].IsZero() || (k.Every > 0 && time.Since(typed[i]) > k.Every) {
				g.Console.Write([]byte(k.Send))
				typed[i] = time.Now()
			}
		}
	}
}

func (e Expect) reached(s string) bool {
	for _, w := range e.Want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

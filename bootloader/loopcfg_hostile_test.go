package bootloader

import (
	"fmt"
	"strings"
	"testing"
)

// Hostile loopback.cfg chains: each is passed over with a note that says why, after a
// bounded amount of reading (at most maxChain files of at most maxConfigRead bytes).
func TestLoopbackChainHostile(t *testing.T) {
	long := map[string]string{loopbackCfgPath: "source /boot/grub/c0.cfg"}
	for i := range maxChain + 4 {
		long[fmt.Sprintf("/boot/grub/c%d.cfg", i)] = fmt.Sprintf("configfile /boot/grub/c%d.cfg", i+1)
	}
	for name, tc := range map[string]struct {
		files map[string]string
		note  string
	}{
		"self":   {map[string]string{loopbackCfgPath: "source /boot/grub/loopback.cfg"}, "sources itself"},
		"mutual": {map[string]string{loopbackCfgPath: ". /boot/grub/a.cfg", "/boot/grub/a.cfg": "configfile (loop)/boot/grub/loopback.cfg"}, "sources itself"},
		"long":   {long, fmt.Sprintf("longer than %d", maxChain)},
		// 200,000 sources of one file: followed maxChain times, then refused.
		"fan-out": {map[string]string{loopbackCfgPath: strings.Repeat("source /boot/grub/a.cfg\n", 200_000), "/boot/grub/a.cfg": "# empty"},
			fmt.Sprintf("longer than %d", maxChain)},
	} {
		t.Run(name, func(t *testing.T) {
			d, err := Inspect(lbFS(tc.files), "L")
			if err != nil {
				t.Fatal(err)
			}
			if d.Family != Casper || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], tc.note) || len(d.LoopbackChain) > maxChain {
				t.Fatalf("family %s, notes %q, chain of %d", d.Family, d.Notes, len(d.LoopbackChain))
			}
		})
	}
}

package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/compose"
)

// printSecureBoot lists, for each entry Debian's shim would refuse, what the user enrols
// once per machine with MokManager, and the certificates the stick carries.
func printSecureBoot(w io.Writer, p *compose.Plan) {
	var lines []string
	for _, e := range p.Entries {
		sb := e.SecureBootPlan
		if sb == nil {
			continue
		}
		lines = append(lines, fmt.Sprintf("  %s: %s", e.Name, sb.Action))
		for _, c := range sb.Enrol {
			lines = append(lines, fmt.Sprintf("    %s  subject %s  sha256 %s", c.Path, c.Subject, c.SHA256))
		}
	}
	if len(lines) == 0 && len(p.Keys) == 0 {
		return
	}
	printf(w, "\nSecure Boot (enrol once per machine with MokManager, menu entry \"MOK manager\"):\n")
	for _, l := range lines {
		printf(w, "%s\n", l)
	}
	if len(p.Keys) > 0 {
		printf(w, "  certificates on the stick:\n")
	}
	for _, c := range p.Keys {
		printf(w, "    %s  %s  from %s\n", c.Path, c.Subject, strings.Join(c.From, ", "))
	}
}

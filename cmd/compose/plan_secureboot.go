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
	fmt.Fprintf(w, "\nSecure Boot (enrol once per machine with MokManager, menu entry \"MOK manager\"):\n")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if len(p.Keys) > 0 {
		fmt.Fprintf(w, "  certificates on the stick:\n")
	}
	for _, c := range p.Keys {
		fmt.Fprintf(w, "    %s  %s  from %s\n", c.Path, c.Subject, strings.Join(c.From, ", "))
	}
}

package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/compose"
)

// errNeedYes is returned when a write needs confirmation and cannot ask.
var errNeedYes = errors.New("writing a device destroys its contents: confirm with --yes when there is no terminal to ask on")

type deviceFlags struct {
	yes bool
}

// confirm shows what will be lost and asks on the terminal; without one,
// --yes is the only way on. Nothing else in compose prompts.
func (a *app) confirm(sticks []compose.Stick, yes bool) error {
	if yes {
		return nil
	}
	if !isTerminal(a.stdin) || !isTerminal(a.stderr) {
		return usageError{errNeedYes}
	}
	fmt.Fprintln(escaper{a.stderr}, "compose will ERASE everything on:")
	for _, d := range sticks {
		printf(escaper{a.stderr}, "  %s  %s  %s  %s\n", d.Path, humanSize(d.Size), d.Bus, d.Model)
		for _, p := range d.Partitions {
			printf(escaper{a.stderr}, "      %s  %s  %s %s\n", p.Path, humanSize(p.Size), p.FSType, p.Label)
		}
	}
	fmt.Fprint(escaper{a.stderr}, "Type yes to write: ")
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed: nothing was written")
	}
	return nil
}

// errNeedYesReset is returned when emptying a persistence partition
// needs confirmation and cannot ask.
var errNeedYesReset = errors.New("emptying a persistence partition loses the data on it: confirm with --yes when there is no terminal to ask on")

// confirmReset shows the persistence partitions --reset-persistence
// empties, with the data in use on each, and asks as confirm does.
func (a *app) confirmReset(rs []compose.PersistReset, yes bool) error {
	if yes {
		return nil
	}
	if !isTerminal(a.stdin) || !isTerminal(a.stderr) {
		return usageError{errNeedYesReset}
	}
	fmt.Fprintln(escaper{a.stderr}, "compose will EMPTY, losing everything on it, the persistence partition of:")
	for _, r := range rs {
		used := "an unknown amount"
		if r.Used >= 0 {
			used = humanSize(r.Used)
		}
		printf(escaper{a.stderr}, "  %s on %s  (%s, label %s, %s in use)\n", r.Entry, r.Target, humanSize(r.Size), r.Label, used)
	}
	fmt.Fprint(escaper{a.stderr}, "Type yes to empty: ")
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed: nothing was written")
	}
	return nil
}

func printDeviceResults(w io.Writer, out []compose.DeviceResult) error {
	for _, r := range out {
		switch {
		case r.Complete && r.Incremental && len(r.Changes) == 0:
			printf(w, "%s: no changes: it already holds this kit %s\n", r.Device, checkedBy(r.ISOCheck, r.Verification))
		case r.Complete && r.Incremental:
			printf(w, "%s: updated in place%s: %s, %s written\n", r.Device, inSteps(r.Steps), count(len(r.Changes), "change"), humanSize(r.Written))
			if r.Verification != nil {
				printf(w, "%s: every file read back whole and verified: %s\n", r.Device, humanSize(r.Verification.BytesRead))
			}
		case r.Complete && r.Verified:
			printf(w, "%s: written and verified (%s)\n", r.Device, humanSize(r.Written))
		case r.Complete:
			printf(w, "%s: written, not verified (%s)\n", r.Device, humanSize(r.Written))
		case r.Touched:
			printf(w, "%s: FAILED, the stick is incomplete: %s\n", r.Device, r.Error)
		default:
			printf(w, "%s: not written, it holds what it held: %s\n", r.Device, r.Error)
		}
		for _, warn := range r.Warnings {
			printf(w, "%s: warning: %s\n", r.Device, warn)
		}
	}
	return nil
}

package boottest

import (
	"context"
	"errors"
	"path"
	"slices"
	"strings"
	"time"
)

// DefaultEnrolTimeout bounds one MokManager enrolment: GRUB's menu, MokManager's
// screens for every key, and the reboot, under TCG on a loaded host.
const DefaultEnrolTimeout = 8 * time.Minute

// enroller enrols, once per firmware of a run, every key the run's cases on that
// firmware list, and remembers the variable store (or the failure) for the cases after.
type enroller struct {
	r    *Runner
	keys map[Variant][]string
	done map[Variant]enrolOutcome
}

type enrolOutcome struct {
	vars string
	err  error
}

func newEnroller(r *Runner, cases []Case) *enroller {
	en := &enroller{r: r, keys: map[Variant][]string{}, done: map[Variant]enrolOutcome{}}
	for _, c := range cases {
		for _, k := range c.Enrol {
			if !slices.Contains(en.keys[c.Firmware], k) {
				en.keys[c.Firmware] = append(en.keys[c.Firmware], k)
			}
		}
	}
	return en
}

// bootEnrolled handles a case shim refused as it was (before): with keys on the stick it
// enrols them (once per firmware) and boots the case again, which must then pass; without,
// the result stays as it was, marked as needing an enrolment nobody can do.
func (en *enroller) bootEnrolled(ctx context.Context, c Case, before Result) (Result, error) {
	e := &Enrolled{Needed: true, Keys: c.Enrol, Before: before.Reason, BeforeLog: before.Log}
	if len(c.Enrol) == 0 || en.r.Volume == "" {
		before.Enrolment = e
		return before, nil
	}
	out, err := en.enrol(ctx, c.Firmware)
	if err != nil {
		return Result{}, err
	}
	if out.err != nil {
		e.Error = out.err.Error()
		before.Enrolment = e
		before.Pass, before.Expected = false, false
		before.Reason, before.Detail, before.Explanation = ReasonEnrolment, e.Error, Explain(ReasonEnrolment)
		return before, nil
	}
	c.ExpectFail = ReasonNone // its key is enrolled: it must boot
	after, err := en.r.bootFrom(ctx, c, store{Vars: out.vars})
	if err != nil {
		return Result{}, err
	}
	e.Done = true
	after.Enrolment = e
	return after, nil
}

// enrol runs MokManager for firmware f once; a MokManager that did not do what it was
// asked is the outcome's err (the cases fail), anything else (QEMU missing, ctx ended)
// stops the run.
func (en *enroller) enrol(ctx context.Context, f Variant) (enrolOutcome, error) {
	if out, ok := en.done[f]; ok {
		return out, nil
	}
	keys := en.keys[f]
	en.r.emit(Event{Kind: EventEnrol, Case: Case{Firmware: f}, Enrol: keys})
	timeout := en.r.EnrolTimeout
	if timeout == 0 {
		timeout = DefaultEnrolTimeout
	}
	vars, err := en.r.Enrol(ctx, Enrolment{Firmware: f, Volume: en.r.Volume, Keys: keys, Timeout: timeout})
	if err != nil && (!errors.Is(err, ErrEnrolment) || ctx.Err() != nil) {
		return enrolOutcome{}, err
	}
	en.r.emit(Event{Kind: EventEnrolled, Case: Case{Firmware: f}, Enrol: keys, Err: err})
	out := enrolOutcome{vars: vars, err: err}
	en.done[f] = out
	return out, nil
}

// String is the table's MOK column: what the case needed and got.
func (e *Enrolled) String() string {
	switch {
	case e == nil || !e.Needed:
		return "-"
	case e.Done:
		return "enrolled " + baseNames(e.Keys)
	case e.Error != "":
		return "enrolment failed"
	case len(e.Keys) == 0:
		return "needed, no key on the stick"
	}
	return "needed: " + baseNames(e.Keys)
}

func baseNames(paths []string) string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = path.Base(p)
	}
	return strings.Join(out, ",")
}

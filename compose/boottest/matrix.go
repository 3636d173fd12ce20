package boottest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Matrix crosses entries with firmware targets, in the order given:
// for each firmware, every entry. expect, when not nil, gives the failure a
// pair is expected to end with (ReasonNone for "must boot").
func Matrix(entries []Case, firmware []Variant, expect func(Case) Reason) []Case {
	var out []Case
	for _, f := range firmware {
		for _, e := range entries {
			c := e
			c.Firmware = f
			if expect != nil {
				c.ExpectFail = expect(c)
			}
			out = append(out, c)
		}
	}
	return out
}

// RunAll boots the cases one at a time (two TCG guests on two cores slow
// each other past their deadlines) and returns one Result per case. It stops
// at the first setup error (QEMU or firmware missing) or when ctx ends.
//
// Each case boots as it is first. When shim refuses it on a Secure Boot machine
// (ReasonPayloadNotSigned) and the case lists keys the stick carries (Case.Enrol),
// RunAll enrols them with MokManager (once per firmware, see enroller) and boots the case again from
// that variable store: the case passes only if it boots then (Result.Enrolment).
func (r *Runner) RunAll(ctx context.Context, cases []Case) ([]Result, error) {
	results := make([]Result, 0, len(cases))
	en := newEnroller(r, cases)
	for _, c := range cases {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res, err := r.Boot(ctx, c)
		if err == nil && c.Firmware.SecureBoot() && res.Reason == ReasonPayloadNotSigned {
			res, err = en.bootEnrolled(ctx, c, res)
		}
		if err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// AllPassed reports whether every result passed (expected failures count as passes).
func AllPassed(results []Result) bool {
	for _, r := range results {
		if !r.Pass {
			return false
		}
	}
	return true
}

// Status is the word a table shows for a result.
func (r Result) Status() string {
	switch {
	case r.Expected:
		return "xfail"
	case r.Pass:
		return "pass"
	}
	return "FAIL"
}

// WriteTable writes results as an aligned plain-text table: entry,
// firmware, accelerator ("tcg (kvm failed)" when auto fell back), status,
// milestone reached, the proof judged by, time, MokManager's part, and the
// reason with its explanation for failures.
func WriteTable(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ENTRY\tFIRMWARE\tACCEL\tRESULT\tREACHED\tPROOF\tTIME\tMOK\tNOTE")
	for _, r := range results {
		accel := string(r.Accel)
		if r.KVMError != "" {
			accel += " (kvm failed)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Entry, r.Firmware, accel, r.Status(), r.Milestone,
			r.proofLabel(), r.Duration.Round(100*time.Millisecond), r.Enrolment.String(), note(r))
	}
	return tw.Flush()
}

// proofLabel is the PROOF column: expect, kernel banner, or the family
// default and its payload; "on screen" when the VGA text screen showed it.
func (r Result) proofLabel() string {
	s := string(r.Proof)
	if r.Proof == ProofFamily {
		s += " (" + string(r.Payload) + ")"
	}
	if s == "" {
		s = "-"
	}
	if r.MatchedOn == "screen" {
		s += " on screen"
	}
	return s
}

// note is the reason a case failed, quoted, with its explanation (the
// reason KVM was not used is the ACCEL column's and the run's one warning).
func note(r Result) string {
	if r.Reason == ReasonNone {
		return ""
	}
	parts := []string{string(r.Reason)}
	if r.Detail != "" {
		parts = append(parts, fmt.Sprintf("%q", r.Detail))
	}
	if r.Explanation != "" {
		parts = append(parts, r.Explanation)
	}
	return strings.Join(parts, ": ")
}

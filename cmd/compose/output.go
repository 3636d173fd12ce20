package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/usbkit/compose/compose"
)

// Output rules, followed by every verb:
//
//   - Results go to stdout; everything else (errors, hints, warnings,
//     progress) goes to stderr.
//   - Diagnostics read "compose: error: …", "compose: warning: …" and
//     "compose: hint: …": lowercase, no trailing period.
//   - With --json, stdout carries machine-readable JSON only: one object per
//     result, and on failure an object {"error": {...}} in place of the
//     result; stderr carries only progress, as JSON lines.
//   - -q/--quiet drops hints, warnings and progress; errors always print.
//   - Progress bars appear only when stderr is a terminal whose TERM is not
//     "dumb"; elsewhere plain lines, every few seconds, not one per event.
//     compose prints no colour, so NO_COLOR (https://no-color.org) holds
//     trivially.
//   - Only `compose apply --device` ever prompts, and only on a terminal.
//   - Control characters in human-readable output are escaped (escape.go):
//     text from an ISO or a manifest never reaches the terminal raw, and a
//     newline inside a path (the user's, or one an error quotes) never
//     starts a line of its own.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	file    string // -f/--file
	json    bool   // --json
	quiet   bool   // -q/--quiet
	verbose bool   // -v/--verbose
	strict  bool   // --strict
	frozen  bool   // --frozen (or COMPOSE_FROZEN: frozenOn)

	userText []string     // paths the user gave holding a newline or tab (noteUserText)
	kit      *compose.Kit // the kit loaded, for the hints of its errors
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr}
}

// result prints a verb's result: v as JSON with --json, else text(stdout).
func (a *app) result(v any, text func(w io.Writer) error) error {
	if a.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(emptyLists(v))
	}
	return a.text(a.stdout, text)
}

func (a *app) hint(format string, args ...any) {
	a.diag("hint", format, args...)
}

func (a *app) warn(format string, args ...any) {
	a.diag("warning", format, args...)
}

// info prints a progress note on stderr unless quiet or JSON.
func (a *app) info(format string, args ...any) {
	if a.quiet || a.json {
		return
	}
	fmt.Fprintf(a.stderr, "compose: %s\n", escapeText(fmt.Sprintf(format, escapeArgs(args)...)))
}

func (a *app) diag(kind, format string, args ...any) {
	if a.quiet || a.json {
		return
	}
	fmt.Fprintf(a.stderr, "compose: %s: %s\n", kind, escapeText(fmt.Sprintf(format, escapeArgs(args)...)))
}

// jsonError is the shape of an error under --json.
type jsonError struct {
	Error struct {
		Message     string       `json:"message"`
		ExitCode    int          `json:"exit_code"`
		Hint        string       `json:"hint,omitempty"`
		Diagnostics []diagnostic `json:"diagnostics,omitempty"`
	} `json:"error"`
}

// diagnostic is one positioned problem in an input file.
type diagnostic struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// fail prints err the way the output rules say. Multi-line errors (a list of
// positioned diagnostics) print one "compose: error:" line per problem.
func (a *app) fail(err error) {
	if a.json {
		var je jsonError
		je.Error.Message = err.Error()
		je.Error.ExitCode = exitCode(err)
		je.Error.Hint = a.hintOf(err)
		je.Error.Diagnostics = diagnosticsOf(err)
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(je)
		return
	}
	for _, line := range errorLines(err) {
		fmt.Fprintf(a.stderr, "compose: error: %s\n", line)
	}
	h := a.hintOf(err)
	if h != "" && !a.quiet {
		for _, line := range strings.Split(h, "\n") { // a stack has many
			fmt.Fprintf(a.stderr, "compose: hint: %s\n", escapeText(line))
		}
	}
}

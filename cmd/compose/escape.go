package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/usbkit/compose/config"
)

// Text from ISOs and manifests (labels, paths, titles, error messages
// quoting them) can carry control characters; an ESC sequence printed raw
// drives the user's terminal, and a newline inside a path forges a line of
// output. Every human-readable line compose prints goes through this file:
//
//   - errors: errorLines, which keeps only the newlines that separate
//     joined errors and diagnostics and escapes everything else, so that a
//     path an OS error quotes ("open /tmp/a\nb: …") stays on its line;
//   - warnings, hints and notes: each argument escaped whole (escapeArgs),
//     the format is the layout;
//   - results: app.text, where a newline or tab inside a path the user
//     gave (a flag, an argument, a directory from the environment) is
//     escaped, and every other control character but newline and tab.
//
// C0 and C1 controls and DEL become \xNN (\u00NN for C1). JSON output is
// escaped by encoding/json.

// escapeText returns s with control characters other than \n and \t escaped.
func escapeText(s string) string { return escape(s, true) }

// escapeAll returns s with every control character escaped, newline and
// tab included: one value printed inside a line.
func escapeAll(s string) string { return escape(s, false) }

func escape(s string, layout bool) string {
	if !needsEscape(s, layout) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case layout && (c == '\n' || c == '\t'):
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f: // C1 control, UTF-8
			fmt.Fprintf(&b, `\u%04x`, s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(s string, layout bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && !(layout && (c == '\n' || c == '\t'))) || c == 0x7f || (c == 0xc2 && i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] <= 0x9f) {
			return true
		}
	}
	return false
}

// errorLines renders err as the lines of "compose: error: …". Only two
// kinds of newline are layout: between errors.Join's errors (a wrapping
// error's text before them stays on the first line, or on a line of its
// own when it ends with a newline) and between a manifest's diagnostics.
// Every other control character is escaped. The context's "context
// canceled" of a Ctrl-C reads "interrupted".
func errorLines(err error) []string {
	msg := err.Error()
	switch e := err.(type) {
	case interrupted:
		lines := errorLines(e.error)
		for i, l := range lines {
			lines[i] = sayInterrupted(l)
		}
		return lines
	case config.Diagnostics:
		lines := make([]string, len(e))
		for i, d := range e {
			lines[i] = escapeAll(d.String())
		}
		return lines
	case interface{ Unwrap() []error }:
		kids := e.Unwrap()
		texts := make([]string, len(kids))
		for i, k := range kids {
			texts[i] = k.Error()
		}
		if len(kids) > 0 && msg == strings.Join(texts, "\n") {
			var lines []string
			for _, k := range kids {
				lines = append(lines, errorLines(k)...)
			}
			return lines
		}
		if n := len(kids); n > 0 && strings.HasSuffix(msg, texts[n-1]) {
			return withPrefix(strings.TrimSuffix(msg, texts[n-1]), errorLines(kids[n-1]))
		}
	case interface{ Unwrap() error }:
		if k := e.Unwrap(); k != nil && strings.HasSuffix(msg, k.Error()) {
			return withPrefix(strings.TrimSuffix(msg, k.Error()), errorLines(k))
		}
	}
	if err == context.Canceled {
		return []string{"interrupted"}
	}
	return []string{escapeAll(msg)}
}

// withPrefix puts a wrapping error's own text before its wrapped error's
// lines.
func withPrefix(prefix string, lines []string) []string {
	if p, ok := strings.CutSuffix(prefix, "\n"); ok {
		return append([]string{escapeAll(p)}, lines...)
	}
	lines[0] = escapeAll(prefix) + lines[0]
	return lines
}

// printf prints a line of a result: the format is the layout, and every
// text argument is escaped whole (escapeArgs), as in diagnostics. A path
// on a stick or in an ISO, a record's path, a device's mountpoint may
// hold a newline or a tab: inside a table or a line it must not start a
// row or a column of its own (a leftover file on a kit's data partition
// named "x\ncompose: error: …" printed a forged error line in verify and
// plan).
func printf(w io.Writer, format string, args ...any) (int, error) {
	return fmt.Fprintf(w, format, escapeArgs(args)...)
}

// escapeArgs escapes every text argument of a diagnostic whole.
func escapeArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			out[i] = escapeAll(v)
		case error:
			out[i] = strings.Join(errorLines(v), "; ")
		case fmt.Stringer:
			out[i] = escapeAll(v.String())
		default:
			out[i] = a
		}
	}
	return out
}

// noteUserText records, before a verb runs, the paths the user gave that
// hold a newline or tab: every flag value, every argument, and the
// directories compose takes from the environment. app.text escapes them
// where a result quotes them.
func (a *app) noteUserText(cmd *cobra.Command, args []string) {
	texts := append([]string{}, args...)
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if s, ok := f.Value.(pflag.SliceValue); ok {
			texts = append(texts, s.GetSlice()...)
		} else {
			texts = append(texts, f.Value.String())
		}
	})
	for _, env := range []string{"COMPOSE_CACHE_DIR", "XDG_CACHE_HOME", "HOME", "TMPDIR"} {
		texts = append(texts, os.Getenv(env))
	}
	for _, t := range texts {
		if !strings.ContainsAny(t, "\n\t") || strings.Trim(t, "\n\t") == "" {
			continue // no newline or tab, or nothing else: every newline would go
		}
		a.userText = append(a.userText, t, filepath.Clean(t))
		if abs, err := filepath.Abs(t); err == nil {
			a.userText = append(a.userText, abs)
		}
	}
	// Longest first, so that a path is replaced before a part of it.
	sort.Slice(a.userText, func(i, j int) bool { return len(a.userText[i]) > len(a.userText[j]) })
}

// text renders a human-readable result into w: a newline or tab inside a
// path the user gave is escaped, as is every other control character but
// the newlines and tabs of the layout.
func (a *app) text(w io.Writer, render func(io.Writer) error) error {
	var b strings.Builder
	err := render(&b)
	out := b.String()
	if len(a.userText) > 0 {
		pairs := make([]string, 0, 2*len(a.userText))
		for _, t := range a.userText {
			pairs = append(pairs, t, escapeAll(t))
		}
		out = strings.NewReplacer(pairs...).Replace(out)
	}
	if _, werr := io.WriteString(w, escapeText(out)); err == nil {
		err = werr
	}
	return err
}

// escaper is an escaping writer for text that holds no path the user gave
// (the confirmation prompt's device list).
type escaper struct{ w io.Writer }

func (e escaper) Write(p []byte) (int, error) {
	if _, err := io.WriteString(e.w, escapeText(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

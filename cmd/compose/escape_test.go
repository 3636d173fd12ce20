package main

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain label":           "plain label",
		"\x1b[2J\x1b]0;pwned\a": `\x1b[2J\x1b]0;pwned\x07`,
		"tab\tand\nnewline":     "tab\tand\nnewline",
		"del\x7f c1\u009b31m":   `del\x7f c1\u009b31m`,
		"ünïcödé":               "ünïcödé",
	} {
		if got := escapeText(in); got != want {
			t.Errorf("escapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// Every text renderer goes through app.result's escaper, and every
// diagnostic through escapeText.
func TestOutputEscapesControls(t *testing.T) {
	var out, errb bytes.Buffer
	a := newApp(nil, &out, &errb)
	_ = a.result(nil, func(w io.Writer) error { _, err := fmt.Fprintf(w, "label: %s\n", "EVIL\x1b[31m"); return err })
	a.warn("%s", "bad\x1b]0;title\a")
	a.fail(fmt.Errorf("x.iso: label \x1b[2J"))
	for _, b := range [][]byte{out.Bytes(), errb.Bytes()} {
		if bytes.ContainsAny(b, "\x1b\a") {
			t.Errorf("raw control characters reached the terminal: %q", b)
		}
	}
}

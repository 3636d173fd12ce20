package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/config"
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

// errorLines keeps the newlines of joined errors and diagnostics as lines
// and escapes every other control character: a path with a newline stays
// on its error's line.
func TestErrorLines(t *testing.T) {
	pathErr := &fs.PathError{Op: "open", Path: "/tmp/a\nb/kit.img", Err: syscall.ENOENT}
	strict := errors.New("strict: entries would not find their ISO")
	for _, c := range []struct {
		err  error
		want []string
	}{
		{pathErr, []string{`open /tmp/a\x0ab/kit.img: no such file or directory`}},
		{fmt.Errorf("building kit.img: %w", pathErr), []string{`building kit.img: open /tmp/a\x0ab/kit.img: no such file or directory`}},
		{errors.Join(errors.New("one"), pathErr), []string{"one", `open /tmp/a\x0ab/kit.img: no such file or directory`}},
		{fmt.Errorf("nothing was written to 2 of 2 devices: %w", errors.Join(errors.New("sdb: busy"), errors.New("sdc\x1b[2J: busy"))),
			[]string{"nothing was written to 2 of 2 devices: sdb: busy", `sdc\x1b[2J: busy`}},
		{fmt.Errorf("%w:\n%w", strict, errors.Join(errors.New("  alpha: x"), errors.New("  beta: y"))),
			[]string{"strict: entries would not find their ISO:", "  alpha: x", "  beta: y"}},
		{config.Diagnostics{{File: "m.yaml", Line: 1, Col: 2, Msg: "bad\nvalue"}, {File: "m.yaml", Line: 3, Col: 4, Msg: "worse"}},
			[]string{`m.yaml:1:2: bad\x0avalue`, "m.yaml:3:4: worse"}},
		{interrupted{fmt.Errorf("fetching alpha: %w", context.Canceled)}, []string{"fetching alpha: interrupted"}},
		{errors.New("tab\there"), []string{`tab\x09here`}},
	} {
		if got := errorLines(c.err); !slices.Equal(got, c.want) {
			t.Errorf("errorLines(%q) = %q, want %q", c.err, got, c.want)
		}
	}
}

// Ctrl-C (a cancelled context) reads "interrupted", with exit code 130,
// as text and as JSON.
func TestInterruptedSaysSo(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COMPOSE_CACHE_DIR", filepath.Join(dir, "cache"))
	iso := []byte("not really an ISO")
	sum := sha256.Sum256(iso)
	os.WriteFile(filepath.Join(dir, "a.iso"), iso, 0o644)
	manifest := filepath.Join(dir, "multiboot.yaml")
	os.WriteFile(manifest, []byte(fmt.Sprintf("version: 1\nlabel: kit\nisos:\n  - name: a\n    path: a.iso\n    sha256: %q\n", hex.EncodeToString(sum[:]))), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, json := range []bool{false, true} {
		args := []string{"apply", "-q", "-f", manifest, "--image", filepath.Join(dir, "kit.img")}
		if json {
			args = append(args, "--json")
		}
		var out, errb bytes.Buffer
		code := run(ctx, args, nil, &out, &errb)
		text := out.String() + errb.String()
		if code != exitInterrupted || !strings.Contains(text, "interrupted") || strings.Contains(text, "context canceled") {
			t.Errorf("json %v: exit %d, output %q; want 130 and \"interrupted\"", json, code, text)
		}
	}
}

// Progress lines escape a task's name and message whole: one update, one
// line, no raw control character.
func TestProgressEscapes(t *testing.T) {
	var errb bytes.Buffer
	a := newApp(nil, io.Discard, &errb)
	d := a.display("write")
	d.event(compose.Event{Phase: compose.PhaseWrite, Task: "/tmp/a\nb.img", Status: compose.Failed, Message: "open /tmp/a\nb.img: \x1b[2J"})
	d.close()
	if got := errb.String(); strings.Count(got, "\n") != 1 || strings.ContainsRune(got, 0x1b) || !strings.Contains(got, `/tmp/a\x0ab.img`) {
		t.Errorf("progress line: %q", got)
	}
}

// TestResultsEscapePaths: a path compose reads from a target or an ISO
// is one value of a result: a newline or tab in it is escaped, never a
// row or a column of its own. Found by the recheck pass: a leftover on a
// kit's data partition named "evil\ncompose: error: forged line" printed
// that forged error line in verify's table and plan's diff.
func TestResultsEscapePaths(t *testing.T) {
	evil := "/isos/evil\ncompose: error: forged\tline"
	v := &converge.Verification{Target: "kit.img", OK: true, Files: []converge.VerifiedFile{
		{Path: "/isos/alpha.iso", Name: "alpha", Partition: 2, Kind: "iso", Status: converge.StatusOK},
		{Path: evil, Partition: 3, Kind: "extra", Status: converge.StatusLeftover},
		{Path: "/isos/beta.iso", Name: "beta\nx", Partition: 3, Kind: "iso", Status: converge.StatusMissing, Error: "read error at byte 0:\nEIO"},
	}}
	d := &converge.Diff{Target: "kit.img", Kit: true, Changes: []converge.Change{{Op: "-", Kind: "leftover", Path: evil, Size: 1}}}
	p := &compose.Plan{Manifest: "m.yaml", Image: "kit.img", Diff: d, Notes: []string{"a note\nwith a line"}}
	for name, render := range map[string]func(io.Writer) error{
		"verify": func(w io.Writer) error { return printVerification(w, v) },
		"plan":   func(w io.Writer) error { return printPlan(w, p, false) },
		"apply --device": func(w io.Writer) error {
			printDeviceResults(w, []compose.DeviceResult{{Device: "/dev/sdz\nforged", Error: "gone\nforged"}})
			return nil
		},
	} {
		var out bytes.Buffer
		a := newApp(nil, &out, io.Discard)
		if err := a.result(nil, render); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "compose: error") || strings.HasPrefix(line, "forged") ||
				strings.HasPrefix(line, "with a line") || strings.HasPrefix(line, "EIO") || strings.HasPrefix(line, "x (beta)") {
				t.Errorf("%s: a value started a line of its own: %q\n%s", name, line, out.String())
			}
		}
		if !strings.Contains(out.String(), `\x0a`) {
			t.Errorf("%s: no escaped newline in\n%s", name, out.String())
		}
	}
}

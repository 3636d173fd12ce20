package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/spf13/cobra"
)

// boomCmd panics the way a bug does.
func boomCmd() *cobra.Command {
	return &cobra.Command{Use: "boom", RunE: func(*cobra.Command, []string) error {
		var counts map[string]int
		counts["x"]++ // assignment to entry in nil map
		return nil
	}}
}

// A panic in a verb is an internal error: exit code 70, and with --json the error
// object on stdout, its hint carrying the stack; without, the stack on stderr.
func TestPanicIsInternalError(t *testing.T) {
	var stdout, stderr bytes.Buffer
	a := newApp(nil, &stdout, &stderr)
	root := newRootCmd(a)
	root.AddCommand(boomCmd())
	if code := a.execute(context.Background(), root, []string{"boom", "--json"}); code != exitInternal {
		t.Fatalf("exit code %d, want %d", code, exitInternal)
	}
	var je jsonError
	if err := json.Unmarshal(stdout.Bytes(), &je); err != nil {
		t.Fatalf("stdout is not the JSON error object: %v\n%s", err, stdout.Bytes())
	}
	e := je.Error
	if e.ExitCode != exitInternal || !strings.Contains(e.Message, "internal error while running compose: assignment to entry in nil map") ||
		!strings.Contains(e.Hint, "this is a bug in compose") || !strings.Contains(e.Hint, "crash_test.go") {
		t.Errorf("error object %+v", e)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr under --json: %s", stderr.Bytes())
	}

	stdout.Reset()
	a = newApp(nil, &stdout, &stderr)
	root = newRootCmd(a)
	root.AddCommand(boomCmd())
	if code := a.execute(context.Background(), root, []string{"boom"}); code != exitInternal {
		t.Fatalf("exit code %d, want %d", code, exitInternal)
	}
	if s := stderr.String(); !strings.HasPrefix(s, "compose: error: internal error while running compose") ||
		!strings.Contains(s, "\ncompose: hint: goroutine ") || stdout.Len() != 0 {
		t.Errorf("stderr:\n%s\nstdout: %s", s, stdout.Bytes())
	}
}

// patch FILE OLD NEW: replace the one occurrence of OLD in FILE with NEW, both Go
// string literals without their quotes ('NM\x06\x01\x00a'), of one length: a
// crafted ISO is a real one with bytes changed.
func cmdPatch(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: patch FILE OLD NEW")
	}
	old, err := strconv.Unquote(`"` + args[1] + `"`)
	ts.Check(err)
	repl, err := strconv.Unquote(`"` + args[2] + `"`)
	ts.Check(err)
	b := []byte(ts.ReadFile(args[0]))
	if n := bytes.Count(b, []byte(old)); n != 1 || len(old) != len(repl) {
		ts.Fatalf("patch: %q occurs %d times in %s (want once), or %q differs in length", old, n, args[0], repl)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), bytes.Replace(b, []byte(old), []byte(repl), 1), 0o644))
}

// Ctrl-C during inspect (ctx cancelled, as the first SIGINT does) ends it with exit
// code 130 and an error saying "interrupted", not "context canceled".
func TestInspectInterrupted(t *testing.T) {
	if _, err := exec.LookPath("xorriso"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("xorriso missing (CI=true: .ci/run installs it)")
		}
		t.Skip("xorriso missing")
	}
	dir := t.TempDir()
	iso := filepath.Join(dir, "x.iso")
	if err := os.MkdirAll(filepath.Join(dir, "tree/live"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", iso, filepath.Join(dir, "tree")).CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"inspect", iso}, nil, &stdout, &stderr)
	if want := "compose: error: " + iso + ": interrupted\n"; code != exitInterrupted || stderr.String() != want {
		t.Fatalf("exit code %d, stderr %q; want %d, %q", code, stderr.String(), exitInterrupted, want)
	}
}

package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra/doc"
)

// exitConstants reads the exit* constants of errors.go.
func exitConstants(t *testing.T) map[string]int {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if ok && len(vs.Values) == 1 && regexp.MustCompile(`^exit[A-Z]`).MatchString(vs.Names[0].Name) {
			v, err := strconv.Atoi(vs.Values[0].(*ast.BasicLit).Value)
			if err != nil {
				t.Fatal(err)
			}
			out[vs.Names[0].Name] = v
		}
		return true
	})
	return out
}

// TestManPages writes the man pages as 'compose man' does (.ci/release,
// -tags mangen) and checks that every page has EXIT STATUS, with every
// exit code of errors.go, and ENVIRONMENT, before SEE ALSO; groff, when
// installed, must read them without a warning.
func TestManPages(t *testing.T) {
	codes := exitConstants(t)
	if len(codes) != len(exitStatus) {
		t.Fatalf("errors.go has %d exit codes, the man pages' EXIT STATUS %d", len(codes), len(exitStatus))
	}
	dir := t.TempDir()
	root := newRootCmd(newApp(nil, &bytes.Buffer{}, &bytes.Buffer{}))
	root.DisableAutoGenTag = true
	day := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if err := doc.GenManTree(root, &doc.GenManHeader{Section: "1", Date: &day}, dir); err != nil {
		t.Fatal(err)
	}
	if err := finishManPages(dir); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*.1"))
	if len(pages) < 10 {
		t.Fatalf("%d man pages", len(pages))
	}
	for _, p := range pages {
		b, _ := os.ReadFile(p)
		page := string(b)
		ex, env, see := strings.Index(page, ".SH EXIT STATUS\n"), strings.Index(page, ".SH ENVIRONMENT\n"), strings.Index(page, ".SH SEE ALSO")
		if ex < 0 || env < ex || (see >= 0 && see < env) {
			t.Fatalf("%s: EXIT STATUS at %d, ENVIRONMENT at %d, SEE ALSO at %d", filepath.Base(p), ex, env, see)
		}
		for name, code := range codes {
			if !strings.Contains(page[ex:env], ".B "+strconv.Itoa(code)+"\n") {
				t.Errorf("%s: EXIT STATUS lacks %d (%s)", filepath.Base(p), code, name)
			}
		}
		for _, v := range []string{"COMPOSE_CACHE_DIR", "COMPOSE_FROZEN", "COMPOSE_MAX_DOWNLOAD"} {
			if !strings.Contains(page[env:], v) {
				t.Errorf("%s: ENVIRONMENT lacks %s", filepath.Base(p), v)
			}
		}
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		for _, p := range pages {
			out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", "-k", p).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("groff -ww %s: %v\n%s", filepath.Base(p), err, out)
			}
		}
	}
}

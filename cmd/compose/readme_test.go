package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func readme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeExitCodes keeps README's exit-code table equal to the exit*
// constants in errors.go.
func TestReadmeExitCodes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var code []int
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Values) != 1 || !regexp.MustCompile(`^exit[A-Z]`).MatchString(vs.Names[0].Name) {
			return true
		}
		v, err := strconv.Atoi(vs.Values[0].(*ast.BasicLit).Value)
		if err != nil {
			t.Fatal(err)
		}
		code = append(code, v)
		return true
	})
	var doc []int
	section := regexp.MustCompile(`(?s)### Exit codes\n(.*?)\n\n`).FindStringSubmatch(readme(t))
	if section == nil {
		t.Fatal("README.md has no '### Exit codes' table")
	}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(section[1], -1) {
		v, _ := strconv.Atoi(m[1])
		doc = append(doc, v)
	}
	sort.Ints(code)
	sort.Ints(doc)
	if len(code) == 0 || !equalInts(code, doc) {
		t.Errorf("exit codes in errors.go %v, in README.md %v", code, doc)
	}
}

// TestReadmeCommands keeps README's command table equal to the verbs the CLI
// has: no verb undocumented, no documented verb missing.
func TestReadmeCommands(t *testing.T) {
	var stdout bytes.Buffer
	root := newRootCmd(newApp(nil, &stdout, &stdout))
	root.InitDefaultCompletionCmd() // cobra adds it on Execute
	var have []string
	for _, c := range root.Commands() {
		if c.Name() != "help" {
			have = append(have, c.Name())
		}
	}
	var doc []string
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `compose ([a-z]+)").FindAllStringSubmatch(readme(t), -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			doc = append(doc, m[1])
		}
	}
	sort.Strings(have)
	sort.Strings(doc)
	if len(have) != len(doc) {
		t.Fatalf("verbs in the CLI %v, in README.md %v", have, doc)
	}
	for i := range have {
		if have[i] != doc[i] {
			t.Fatalf("verbs in the CLI %v, in README.md %v", have, doc)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReadmeTestCommand keeps .ci/run running exactly the test command that
// README's "The two commands" gives.
func TestReadmeTestCommand(t *testing.T) {
	section := regexp.MustCompile(`(?s)## The two commands\n(.*?)\n## `).FindStringSubmatch(readme(t))
	if section == nil {
		t.Fatal("README.md has no '## The two commands' section")
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)\n```").FindAllStringSubmatch(section[1], -1)
	if len(blocks) != 2 {
		t.Fatalf("'The two commands' has %d sh blocks, want 2 (the main job, the tests)", len(blocks))
	}
	test := blocks[1][1]
	if !strings.HasPrefix(test, "go test ") || strings.Contains(test, "\n") {
		t.Fatalf("README's test command is %q, want one go test line", test)
	}
	ci, err := os.ReadFile("../../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ci), "\n") {
		if strings.TrimSpace(line) == test {
			return
		}
	}
	t.Errorf(".ci/run never runs README's test command %q", test)
}

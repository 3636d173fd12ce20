package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"
)

// workflow FILE JOB OUT: write to OUT a shell script of the lines of JOB's
// `run:` steps in the GitHub Actions workflow FILE that run compose or
// sha256sum, in order, so that a script runs what the workflow runs and
// the two cannot drift.
func cmdWorkflow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: workflow FILE JOB OUT")
	}
	lines, err := workflowLines(ts.ReadFile(args[0]), args[1])
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[2]), []byte("set -e\n"+strings.Join(lines, "\n")+"\n"), 0o644))
}

func workflowLines(src, job string) ([]string, error) {
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(src), &wf); err != nil {
		return nil, err
	}
	j, ok := wf.Jobs[job]
	if !ok {
		return nil, fmt.Errorf("the workflow has no job %q", job)
	}
	var out []string
	for _, s := range j.Steps {
		for _, l := range strings.Split(s.Run, "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "compose ") || strings.HasPrefix(l, "sha256sum ") {
				out = append(out, l)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("job %q runs no compose command", job)
	}
	return out, nil
}

package stale

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// deadPID is the PID of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestCollectOnlyDeadOwners(t *testing.T) {
	dir := t.TempDir()
	mine, err := os.CreateTemp(dir, Pattern(".kit.img.", "apply", ".tmp"))
	if err != nil {
		t.Fatal(err)
	}
	mine.Close()
	if !strings.Contains(filepath.Base(mine.Name()), ".kit.img.compose-apply-"+strconv.Itoa(os.Getpid())+"-") {
		t.Fatalf("name does not say who made it: %s", mine.Name())
	}
	dead := filepath.Join(dir, ".kit.img.compose-apply-"+strconv.Itoa(deadPID(t))+"-123.tmp")
	live := filepath.Join(dir, ".kit.img.compose-apply-1-123.tmp") // init never exits
	other := filepath.Join(dir, ".other.img.compose-apply-"+strconv.Itoa(deadPID(t))+"-1.tmp")
	user := filepath.Join(dir, ".kit.img.tmp-123")
	for _, f := range []string{dead, live, other, user} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed := Collect(dir, ".kit.img.", "apply", ".tmp")
	if len(removed) != 1 || removed[0] != dead {
		t.Fatalf("removed %v, want only %s", removed, dead)
	}
	for _, f := range []string{mine.Name(), live, other, user} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("%s was removed: %v", f, err)
		}
	}
}

// List reports every other process's entry with whether it is gone; Name
// makes names of Pattern's form, owned by this process, that List skips.
func TestListAndName(t *testing.T) {
	dir := t.TempDir()
	dead := filepath.Join(dir, ".kit.img.compose-apply-"+strconv.Itoa(deadPID(t))+"-7.tmp")
	live := filepath.Join(dir, ".kit.img.compose-apply-1-7.tmp")
	mine := filepath.Join(dir, Name(".kit.img.", "apply", ".tmp"))
	if !strings.HasPrefix(filepath.Base(mine), ".kit.img.compose-apply-"+strconv.Itoa(os.Getpid())+"-") || strings.Contains(mine, "*") {
		t.Fatalf("Name: %s", mine)
	}
	for _, f := range []string{dead, live, mine} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for _, e := range List(dir, ".kit.img.", "apply", ".tmp") {
		got[e.Path] = e.Gone
	}
	if len(got) != 2 || !got[dead] || got[live] {
		t.Fatalf("List = %v, want %s gone and %s live", got, dead, live)
	}
}

// Package testenv holds the test helpers every package under compose/
// shares, so that each rule exists once:
//
//   - a test that needs something the machine lacks (a tool, root, loop
//     devices) skips with a message, but FAILS under CI=true: .ci/run
//     installs everything, so there a skip would hide a broken setup;
//   - external commands run with their output in the failure.
//
// It lives under compose/internal because the module's top-level layout is
// fixed and Go lets only compose/... import it. bootloader's tests cannot,
// so bootloader/tools_test.go keeps the one other copy of the CI rule.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// Skip skips t, or fails it under CI=true.
func Skip(t testing.TB, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if CI() {
		t.Fatalf("%s (CI=true: .ci/run provides it, a skip would hide a gap)", msg)
	}
	t.Skip(msg)
}

// Require skips t (or fails it under CI) with why unless ok.
func Require(t testing.TB, ok bool, why string) {
	t.Helper()
	if !ok {
		Skip(t, "%s", why)
	}
}

// Tools requires every tool on PATH.
func Tools(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		_, err := exec.LookPath(tool)
		Require(t, err == nil, tool+" is not installed (.ci/run lists the Debian packages)")
	}
}

// Loop requires root and loop devices.
func Loop(t testing.TB) {
	t.Helper()
	Tools(t, "losetup")
	Require(t, os.Geteuid() == 0, "loop devices need root")
	_, err := os.Stat("/dev/loop-control")
	Require(t, err == nil, "no /dev/loop-control: loop devices are not available")
}

// Ramfs mounts a fresh ramfs (a file system without direct I/O) for the
// length of t and returns its directory; it needs root.
func Ramfs(t testing.TB) string {
	t.Helper()
	Tools(t, "mount", "umount")
	Require(t, os.Geteuid() == 0, "mounting ramfs needs root")
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "ramfs", "ramfs", dir).CombinedOutput(); err != nil {
		Skip(t, "cannot mount ramfs on %s: %v %s", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// Run runs name with args (mtools' drive check off) and returns its
// combined output; a failure fails t with that output.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

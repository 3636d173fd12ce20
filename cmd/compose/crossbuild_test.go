package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// releasePlatforms are the platforms .ci/release builds; keep them in step.
var releasePlatforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

func goBuild(t *testing.T, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"build", "-trimpath"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"CGO_ENABLED=0"}, env...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s %v: %v\n%s", strings.Join(args, " "), env, err, out)
	}
}

// TestCrossBuild builds compose for every release platform, so that a
// Linux-only call outside a _linux.go file fails CI, not the release.
func TestCrossBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("cross builds take a while; run without -short")
	}
	for _, p := range releasePlatforms {
		goos, goarch, _ := strings.Cut(p, "/")
		t.Run(goos+"_"+goarch, func(t *testing.T) {
			goBuild(t, []string{"GOOS=" + goos, "GOARCH=" + goarch}, "-o", os.DevNull, ".")
		})
	}
}

// TestStampedVersion builds compose as .ci/release does and checks that
// "compose version" prints the stamped version, and that the man-page
// build (-tags mangen) writes pages.
func TestStampedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds compose; run without -short")
	}
	bin := filepath.Join(t.TempDir(), "compose")
	goBuild(t, nil, "-tags", "mangen", "-ldflags", "-s -w -X main.version=v9.8.7-stamp", "-o", bin, ".")
	out, err := exec.Command(bin, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "compose v9.8.7-stamp ") {
		t.Errorf("compose version = %q, %v; want compose v9.8.7-stamp …", out, err)
	}
	out, err = exec.Command(bin, "version", "--json").Output()
	var v versionInfo
	if err != nil || json.Unmarshal(out, &v) != nil || v.Version != "v9.8.7-stamp" {
		t.Errorf("compose version --json = %q, %v", out, err)
	}
	dir := t.TempDir()
	if out, err := exec.Command(bin, "man", "--date", "2026-01-02", dir).CombinedOutput(); err != nil {
		t.Fatalf("compose man: %v\n%s", err, out)
	}
	page, err := os.ReadFile(filepath.Join(dir, "compose-apply.1"))
	if err != nil || !strings.Contains(string(page), `.TH "COMPOSE-APPLY" "1" "Jan 2026" "compose v9.8.7-stamp"`) {
		t.Errorf("compose-apply.1 = %.200q, %v", page, err)
	}
}

// TestLinuxOnly: device and QEMU verbs refuse clearly elsewhere, and the
// refusal has a hint pointing at what works there.
func TestLinuxOnly(t *testing.T) {
	if err := linuxOnlyOn("linux", "arm64", "compose test"); err != nil {
		t.Errorf("linux: %v", err)
	}
	err := linuxOnlyOn("darwin", "arm64", "apply --device")
	if !errors.Is(err, errLinuxOnly) {
		t.Fatalf("darwin: %v, want errLinuxOnly", err)
	}
	want := "apply --device works only on Linux (this is darwin/arm64): here compose builds images with apply --image"
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}
	if h := hintFor(err); !strings.Contains(h, "compose apply --image FILE") {
		t.Errorf("hint %q", h)
	}
}

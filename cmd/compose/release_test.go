package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestReleaseScript runs .ci/release for the host platform with an OpenPGP
// and a minisign key made for the test, and checks what a user checks: the
// signatures verify SHA256SUMS (and fail on a changed one), SHA256SUMS
// verifies the files, the binary reports the commit it was built from, and
// the share archive carries the licences.
func TestReleaseScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a release; run without -short")
	}
	need(t, "git", "gpg", "gpgconf", "minisign", "tar", "sha256sum")
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	gnupg := filepath.Join(tmp, "gnupg")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "GNUPGHOME="+gnupg)
	run := func(dir, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { // the gpg-agent gpg started for this GNUPGHOME
		cmd := exec.Command("gpgconf", "--kill", "gpg-agent")
		cmd.Env = env
		_ = cmd.Run()
	})
	run(tmp, "gpg", "--batch", "--passphrase", "", "--quick-gen-key", "compose release test <release@example.invalid>", "ed25519", "sign", "never")
	run(tmp, "minisign", "-G", "-W", "-p", "minisign.pub", "-s", "minisign.key")

	dist := filepath.Join(tmp, "dist")
	env = append(env, "DIST="+dist, "RELEASE_PLATFORMS="+runtime.GOOS+"/"+runtime.GOARCH)
	run(root, ".ci/release", "--gpg-key", "release@example.invalid", "--minisign-key", filepath.Join(tmp, "minisign.key"), "v0.0.0-releasetest")

	sums := filepath.Join(dist, "SHA256SUMS")
	run(dist, "gpg", "--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS")
	run(dist, "minisign", "-V", "-p", filepath.Join(tmp, "minisign.pub"), "-m", "SHA256SUMS")
	run(dist, "sha256sum", "-c", "SHA256SUMS")
	listed := strings.Count(readFile(t, sums), "\n")
	if listed != 2 { // the binary and the share archive; never the signatures
		t.Errorf("SHA256SUMS lists %d files, want 2:\n%s", listed, readFile(t, sums))
	}

	bin := filepath.Join(dist, "compose-v0.0.0-releasetest-"+runtime.GOOS+"-"+runtime.GOARCH)
	var v versionInfo
	if err := json.Unmarshal([]byte(run(tmp, bin, "version", "--json")), &v); err != nil {
		t.Fatal(err)
	}
	head := strings.TrimSpace(run(root, "git", "rev-parse", "HEAD"))
	when := strings.TrimSpace(run(root, "git", "log", "-1", "--format=%cI"))
	dirty := strings.TrimSpace(run(root, "git", "status", "--porcelain")) != ""
	got, err1 := time.Parse(time.RFC3339, v.Time)
	want, err2 := time.Parse(time.RFC3339, when)
	if v.Version != "v0.0.0-releasetest" || v.Revision != head || err1 != nil || err2 != nil || !got.Equal(want) || v.Modified != dirty {
		t.Errorf("release binary reports %+v; want version v0.0.0-releasetest, revision %s (%s), modified %v", v, head, when, dirty)
	}

	tarList := run(dist, "tar", "-tzf", "compose-v0.0.0-releasetest-share.tar.gz")
	for _, f := range []string{"share/doc/compose/LICENSE", "share/doc/compose/NOTICE", "share/doc/compose/licenses/grub-GPL-3.0.txt", "share/man/man1/compose.1"} {
		if !strings.Contains(tarList, f+"\n") {
			t.Errorf("share archive lacks %s", f)
		}
	}

	// A changed SHA256SUMS no longer verifies.
	if err := os.WriteFile(sums, []byte(strings.Replace(readFile(t, sums), "compose", "c0mpose", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"gpg", "--batch", "--verify", "SHA256SUMS.asc", "SHA256SUMS"}, {"minisign", "-V", "-p", filepath.Join(tmp, "minisign.pub"), "-m", "SHA256SUMS"}} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir, cmd.Env = dist, env
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%s accepted a changed SHA256SUMS:\n%s", c[0], out)
		}
	}
}

// need skips the test when a tool is missing, and fails it under CI=true,
// where .ci/run installs every tool.
func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (CI=true: .ci/run installs it)", tool)
			}
			t.Skipf("%s not found", tool)
		}
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

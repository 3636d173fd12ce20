package main

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/usbkit/compose/compose/boottest/qemutest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"compose": func() { os.Exit(Main()) },
		// a stand-in for qemu-system-x86_64 (scripts put it on PATH under that name)
		"fakeqemu": qemutest.Main,
	})
}

// TestScripts runs the end-to-end CLI scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "")
			env.Setenv("COMPOSE_CACHE_DIR", env.WorkDir+"/.cache")
			env.Setenv("CI", os.Getenv("CI"))
			repo, err := filepath.Abs("../..") // $REPO/examples: files scripts read from the repository
			env.Setenv("REPO", repo)
			return err
		},
		Condition: func(cond string) (bool, error) {
			if p, ok := strings.CutPrefix(cond, "file:"); ok { // a file a Debian package installs
				_, err := os.Stat(p)
				if err != nil && os.Getenv("CI") == "true" {
					return false, fmt.Errorf("%s missing (CI=true: .ci/run installs it)", p)
				}
				return err == nil, nil
			}
			if cond != "loopdev" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			_, err := os.Stat("/dev/loop-control")
			return os.Geteuid() == 0 && err == nil, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve":      cmdServe,
			"mkiso":      cmdMkiso,
			"sha256":     cmdSHA256,
			"sha512":     cmdSHA512,
			"expand":     cmdExpand,
			"loopdev":    cmdLoopdev,
			"patch":      cmdPatch,
			"jsonschema": cmdJSONSchema,
			"jsonsame":   cmdJSONSame,
			"workflow":   cmdWorkflow,
		},
	})
}

// serve DIR [RATE]: serve DIR over HTTP on 127.0.0.1, at RATE bytes a
// second when given (slowly); $SERVER is its URL.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: serve DIR [RATE]")
	}
	srv := httptest.NewServer(slowly(ts, http.FileServer(http.Dir(ts.MkAbs(args[0]))), args[1:]))
	ts.Defer(srv.Close)
	ts.Setenv("SERVER", srv.URL)
}

// mkiso DIR OUT LABEL: build an ISO 9660 image of DIR with xorriso.
func cmdMkiso(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: mkiso DIR OUT LABEL")
	}
	ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[1])), 0o755))
	ts.Check(ts.Exec("xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", args[2],
		"--modification-date=2020010100000000", "-o", ts.MkAbs(args[1]), ts.MkAbs(args[0])))
}

// sha256 FILE VAR: set $VAR to FILE's SHA-256.
func cmdSHA256(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sha256 FILE VAR")
	}
	sum := sha256.Sum256([]byte(ts.ReadFile(args[0])))
	ts.Setenv(args[1], hex.EncodeToString(sum[:]))
}

// sha512 FILE VAR: set $VAR to FILE's SHA-512.
func cmdSHA512(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sha512 FILE VAR")
	}
	sum := sha512.Sum512([]byte(ts.ReadFile(args[0])))
	ts.Setenv(args[1], hex.EncodeToString(sum[:]))
}

// expand FILE: replace $VAR and ${VAR} in FILE with the script's variables.
func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	text := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(text), 0o644))
}

// loopdev [-r] FILE VAR: attach FILE to a free loop device (read-only
// with -r), $VAR is its path; detached when the script ends.
func cmdLoopdev(ts *testscript.TestScript, neg bool, args []string) {
	flags := []string{"-f", "--show"}
	if len(args) > 0 && args[0] == "-r" {
		flags, args = append(flags, "-r"), args[1:]
	}
	if neg || len(args) != 2 {
		ts.Fatalf("usage: loopdev [-r] FILE VAR")
	}
	out, err := exec.Command("losetup", append(flags, ts.MkAbs(args[0]))...).Output()
	ts.Check(err)
	dev := strings.TrimSpace(string(out))
	ts.Defer(func() { exec.Command("losetup", "-d", dev).Run() })
	ts.Setenv(args[1], dev)
}

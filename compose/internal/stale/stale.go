// Package stale names the temporary files and directories compose makes
// so that it is obvious what made them and which process owns them, and
// collects the ones whose process is gone (killed with SIGKILL, or a
// machine that lost power) on the next run.
//
// A name is PREFIX + "compose-" + WHAT + "-" + PID + "-" + random + SUFFIX,
// for example ".kit.img.compose-apply-4242-81723.tmp" beside an image, or
// "compose-apply-4242-81723" in $TMPDIR. Collect removes those whose PID
// is not a running process. On systems where that cannot be asked,
// nothing is collected.
package stale

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Pattern is the os.CreateTemp / os.MkdirTemp pattern for a temporary
// owned by this process.
func Pattern(prefix, what, suffix string) string {
	return prefix + "compose-" + what + "-" + strconv.Itoa(os.Getpid()) + "-*" + suffix
}

// Collect removes, in dir, every entry named by Pattern(prefix, what,
// suffix) whose owner process is gone, and returns what it removed.
// Errors are ignored: collecting is a courtesy, never a reason to fail.
func Collect(dir, prefix, what, suffix string) []string {
	head := prefix + "compose-" + what + "-"
	matches, _ := filepath.Glob(filepath.Join(dir, globEscape(head)+"*"+globEscape(suffix)))
	var removed []string
	for _, m := range matches {
		rest := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), head), suffix)
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || alive(pid) {
			continue
		}
		if os.RemoveAll(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

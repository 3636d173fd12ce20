// Package stale names the temporary files and directories compose makes
// so that it is obvious what made them and which process owns them, and
// collects the ones whose process is gone (killed with SIGKILL, or a
// machine that lost power) on the next run.
//
// A name is PREFIX + "compose-" + WHAT + "-" + PID + "-" + random + SUFFIX,
// for example ".kit.img.compose-apply-4242-81723.tmp" beside an image, or
// "compose-apply-4242-81723" in $TMPDIR. Collect removes those whose PID
// is not a running process; List reports them all with their owner. On
// systems where that cannot be asked, nothing is collected.
package stale

import (
	"math/rand/v2"
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

// Name is a fresh name of Pattern's form, for callers that create the
// file themselves (relative to a directory they hold open); they retry
// with another Name when it exists.
func Name(prefix, what, suffix string) string {
	return strings.Replace(Pattern(prefix, what, suffix), "*", strconv.FormatUint(uint64(rand.Uint32()), 10), 1)
}

// Entry is one temporary of Pattern's form.
type Entry struct {
	Path string
	PID  int  // the process that made it
	Gone bool // that process no longer runs: the entry is stale
}

// List returns, in dir, every entry named by Pattern(prefix, what,
// suffix) that another process made, with whether that process is gone.
func List(dir, prefix, what, suffix string) []Entry {
	head := prefix + "compose-" + what + "-"
	matches, _ := filepath.Glob(filepath.Join(dir, globEscape(head)+"*"+globEscape(suffix)))
	var out []Entry
	for _, m := range matches {
		rest := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(m), head), suffix)
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		out = append(out, Entry{Path: m, PID: pid, Gone: !alive(pid)})
	}
	return out
}

// Collect removes, in dir, every entry named by Pattern(prefix, what,
// suffix) whose owner process is gone, and returns what it removed.
// Errors are ignored: collecting is a courtesy, never a reason to fail.
func Collect(dir, prefix, what, suffix string) []string {
	var removed []string
	for _, e := range List(dir, prefix, what, suffix) {
		if e.Gone && os.RemoveAll(e.Path) == nil {
			removed = append(removed, e.Path)
		}
	}
	return removed
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`)
	return r.Replace(s)
}

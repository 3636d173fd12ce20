package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// exitStatus is the EXIT STATUS section of every man page, one line per
// exit code of errors.go (TestManPages keeps them in step; README's table
// says the same at more length).
var exitStatus = []struct {
	code int
	text string
}{
	{exitOK, "success"},
	{exitFailure, "a failure not covered below (network, I/O and the like)"},
	{exitUsage, "usage: an unknown verb or flag, wrong arguments, a flag naming one file given twice"},
	{exitInvalid, "the manifest or lock is invalid, they disagree, or a lock is missing or out of date in frozen mode"},
	{exitMismatch, "a download, cache entry, built image or file on a kit does not match its digest"},
	{exitUnsafe, "a device or image was refused as a target, or verify found no kit; nothing was written"},
	{exitBootFailed, "compose test: a boot did not pass"},
	{exitPending, "plan --detailed-exitcode: apply would change something"},
	{exitUpdates, "update --check: a newer release would move a pin of the lock"},
	{exitInternal, "a bug in compose (a panic, recovered); the hint carries its stack"},
	{exitInterrupted, "interrupted by Ctrl-C or SIGTERM; nothing half-written is left"},
}

// environment is the ENVIRONMENT section: every variable compose reads.
var environment = []struct{ name, text string }{
	{"COMPOSE_CACHE_DIR", "the ISO cache directory (--cache-dir overrides it); default $XDG_CACHE_HOME/compose, else ~/.cache/compose"},
	{frozenEnv, "set to anything but empty, 0 or false: frozen mode, as --frozen (never write or change a lock)"},
	{"COMPOSE_MAX_DOWNLOAD", "the cap on a download whose size is not known yet: bytes or a number with K, M, G or T (default 64G)"},
	{"NETRC", "the netrc file for HTTP basic authentication (default ~/.netrc)"},
	{"AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION", "credentials and region for s3:// ISO URLs"},
	{"HTTPS_PROXY, HTTP_PROXY, NO_PROXY", "the proxy for downloads, as Go's net/http reads them"},
	{"SOURCE_DATE_EPOCH", "the timestamp written into images (seconds since 1970; default 2020-01-01), for reproducible builds"},
	{"TMPDIR", "where apply --device builds the kit's metadata and compose test keeps its scratch files"},
	{"DISPLAY, WAYLAND_DISPLAY", "compose boot opens a window when one is set, else uses the serial console"},
	{"NO_COLOR", "respected trivially: compose prints no colour"},
}

// manSections renders EXIT STATUS and ENVIRONMENT in roff.
func manSections() string {
	var b strings.Builder
	b.WriteString(".SH EXIT STATUS\n")
	for _, e := range exitStatus {
		fmt.Fprintf(&b, ".TP\n.B %d\n%s\n", e.code, roffText(e.text))
	}
	b.WriteString(".SH ENVIRONMENT\n")
	for _, e := range environment {
		fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", roffText(e.name), roffText(e.text))
	}
	return b.String()
}

// roffText escapes what roff would read as a request or an escape.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return strings.ReplaceAll(s, "-", `\-`)
}

// finishManPages adds EXIT STATUS and ENVIRONMENT to every page cobra
// wrote into dir, before SEE ALSO as man-pages(7) orders them.
func finishManPages(dir string) error {
	pages, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil {
		return err
	}
	extra := []byte(manSections())
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		at := bytes.Index(b, []byte(".SH SEE ALSO"))
		if at < 0 {
			at = len(b)
		}
		out := append(append(append([]byte{}, b[:at]...), extra...), b[at:]...)
		if err := os.WriteFile(p, out, 0o644); err != nil {
			return err
		}
	}
	return nil
}

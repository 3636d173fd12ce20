package main

import (
	"runtime"
	"testing"
)

// TestBuildVersionStamped checks that the commit a release build stamps
// (-X main.commit, main.commitTime, main.modified) is what compose version
// reports, in place of go's build info.
func TestBuildVersionStamped(t *testing.T) {
	saved := []string{version, commit, commitTime, modified}
	defer func() { version, commit, commitTime, modified = saved[0], saved[1], saved[2], saved[3] }()

	version, commit, commitTime, modified = "v1.2.3", "0123abcd", "2026-12-07T21:25:00Z", "true"
	v := buildVersion()
	want := versionInfo{Version: "v1.2.3", Revision: "0123abcd", Time: "2026-12-07T21:25:00Z", Modified: true, Go: runtime.Version()}
	if v != want {
		t.Errorf("buildVersion() = %+v, want %+v", v, want)
	}
	if s, w := v.String(), "compose v1.2.3 (0123abcd, 2026-12-07T21:25:00Z, modified) "+runtime.Version(); s != w {
		t.Errorf("String() = %q, want %q", s, w)
	}

	modified = "false"
	if v := buildVersion(); v.Modified {
		t.Errorf("modified=false reported as modified: %+v", v)
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose"
)

// Every count in the CLI's results agrees with its noun ("1 ISO", not
// "1 ISOs"): one case of each kind for one and for two.
func TestResultsPlural(t *testing.T) {
	entries := func(n int) *compose.Applied {
		return &compose.Applied{Plan: &compose.Plan{Entries: make([]compose.EntryPlan, n)}, Image: &compose.Result{Image: "kit.img"}}
	}
	changes := func(n int) *compose.Applied {
		return &compose.Applied{Image: &compose.Result{Image: "kit.img", Incremental: true, Changes: make([]compose.Change, n)}}
	}
	files := func(n, damaged int) *compose.Verification {
		v := &compose.Verification{Target: "kit.img", OK: damaged == 0, Damaged: damaged}
		for i := range n {
			f := compose.VerifiedFile{Path: "/f", Kind: "iso", Status: compose.StatusOK}
			if i < damaged {
				f.Status, f.Size, f.ActualSize = compose.StatusChanged, 2, 1
			}
			v.Files = append(v.Files, f)
		}
		return v
	}
	device := func(n int) []compose.DeviceResult {
		return []compose.DeviceResult{{Device: "/dev/sdb", Complete: true, Incremental: true, Changes: make([]compose.Change, n)}}
	}
	for _, tc := range []struct {
		name  string
		print func(w *bytes.Buffer) error
		want  string
	}{
		{"1 entry", func(w *bytes.Buffer) error { return printApplied(w, entries(1)) }, "(0 B, 1 entry, 0 B written)"},
		{"2 entries", func(w *bytes.Buffer) error { return printApplied(w, entries(2)) }, "(0 B, 2 entries, 0 B written)"},
		{"1 change", func(w *bytes.Buffer) error { return printApplied(w, changes(1)) }, "in place: 1 change, "},
		{"2 changes", func(w *bytes.Buffer) error { return printApplied(w, changes(2)) }, "in place: 2 changes, "},
		{"device 1 change", func(w *bytes.Buffer) error { return printDeviceResults(w, device(1)) }, "in place: 1 change, "},
		{"device 2 changes", func(w *bytes.Buffer) error { return printDeviceResults(w, device(2)) }, "in place: 2 changes, "},
		{"1 file ok", func(w *bytes.Buffer) error { return printVerification(w, files(1, 0)) }, "kit.img: 1 recorded file ok: "},
		{"2 files ok", func(w *bytes.Buffer) error { return printVerification(w, files(2, 0)) }, "kit.img: all 2 recorded files ok: "},
		{"1 of 1 damaged", func(w *bytes.Buffer) error { return printVerification(w, files(1, 1)) }, "kit.img: 1 of 1 recorded file damaged: "},
		{"1 of 2 damaged", func(w *bytes.Buffer) error { return printVerification(w, files(2, 1)) }, "kit.img: 1 of 2 recorded files damaged: "},
		{"1 byte", func(w *bytes.Buffer) error { return printVerification(w, files(1, 1)) }, "1 byte, recorded 2"},
	} {
		var buf bytes.Buffer
		if err := tc.print(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%s: output lacks %q:\n%s", tc.name, tc.want, buf.String())
		}
	}
}

// validate counts the manifest's ISOs: "1 ISO", "2 ISOs".
func TestValidatePlural(t *testing.T) {
	iso := func(name string) string {
		return "  - name: " + name + "\n    url: http://127.0.0.1:9/" + name + ".iso\n    sha256: " + strings.Repeat("a", 64) + "\n"
	}
	for want, isos := range map[string]string{"valid: 1 ISO (a)": iso("a"), "valid: 2 ISOs (a, b)": iso("a") + iso("b")} {
		path := filepath.Join(t.TempDir(), "multiboot.yaml")
		if err := os.WriteFile(path, []byte("version: 1\nlabel: KIT\nisos:\n"+isos), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), []string{"validate", "-f", path}, nil, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want %q", code, stdout.String(), stderr.String(), want)
		}
	}
}

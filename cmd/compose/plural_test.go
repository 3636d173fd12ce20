package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usbkit/compose/compose"
)

// argOf decodes js into the argument type of print: the results are built
// from their JSON shape, whichever package declares their types.
func argOf[T any](t *testing.T, _ func(io.Writer, T) error, js string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(js), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// Every count in the CLI's results agrees with its noun ("1 ISO", not
// "1 ISOs"): one case of each kind for one and for two.
func TestResultsPlural(t *testing.T) {
	entries := func(n int) *compose.Applied {
		a := argOf(t, printApplied, `{"image": {"image": "kit.img"}}`)
		a.Plan = &compose.Plan{Entries: make([]compose.EntryPlan, n)}
		return a
	}
	changes := func(n int) *compose.Applied {
		return argOf(t, printApplied, `{"image": {"image": "kit.img", "incremental": true, "changes": [{}`+strings.Repeat(`, {}`, n-1)+`]}}`)
	}
	device := func(n int) []compose.DeviceResult {
		return argOf(t, printDeviceResults, `[{"device": "/dev/sdb", "complete": true, "incremental": true, "changes": [{}`+strings.Repeat(`, {}`, n-1)+`]}]`)
	}
	ok := `{"path": "/f", "kind": "iso", "status": "ok", "size": 2, "actual_size": 2}`
	bad := `{"path": "/f", "kind": "iso", "status": "changed", "size": 2, "actual_size": 1}`
	files := func(list ...string) string {
		damaged := strings.Count(strings.Join(list, ""), `"changed"`)
		return fmt.Sprintf(`{"target": "kit.img", "ok": %t, "damaged": %d, "files": [%s]}`, damaged == 0, damaged, strings.Join(list, ", "))
	}
	verification := func(list ...string) func(w *bytes.Buffer) error {
		return func(w *bytes.Buffer) error { return printVerification(w, argOf(t, printVerification, files(list...))) }
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
		{"1 file ok", verification(ok), "kit.img: 1 recorded file ok: "},
		{"2 files ok", verification(ok, ok), "kit.img: all 2 recorded files ok: "},
		{"1 of 1 damaged", verification(bad), "kit.img: 1 of 1 recorded file damaged: "},
		{"1 of 2 damaged", verification(bad, ok), "kit.img: 1 of 2 recorded files damaged: "},
		{"1 byte", verification(bad), "1 byte, recorded 2"},
		{"3 bytes", verification(strings.Replace(bad, `"actual_size": 1`, `"actual_size": 3`, 1)), "3 bytes, recorded 2"},
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

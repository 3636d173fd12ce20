package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watchdog turns a hang into a crash that names the input; fuzzing saves it.
func watchdog(data []byte) (stop func() bool) {
	return time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("hang on input %q", data)) }).Stop
}

func addSeeds(f *testing.F, extra ...string) {
	files, _ := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(Starter())
	f.Add(sampleLock().Marshal())
	for _, s := range extra {
		f.Add([]byte(s))
	}
}

// FuzzParse: any input gives a manifest or Diagnostics, never a panic, and
// every accepted manifest keeps the promises later stages rely on.
func FuzzParse(f *testing.F) {
	addSeeds(f, "", "---\n---\n", "a: &a [*a]\n", "isos: [*x]\n", "version: 1\nisos:\n  - &i {name: a, url: 'https://h/a', sha256: "+hex64+"}\n  - *i\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		m, err := Parse("f.yaml", data, "/kit")
		if err != nil {
			var ds Diagnostics
			if m != nil || !errors.Is(err, ErrInvalid) || !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("bad failure: m=%v err=%T %v", m, err, err)
			}
			for _, d := range ds {
				if d.File != "f.yaml" || d.Msg == "" || strings.Contains(d.Msg, "\n") {
					t.Fatalf("malformed diagnostic %#v", d)
				}
			}
			return
		}
		checkInvariants(t, m)
	})
}

func checkInvariants(t *testing.T, m *Manifest) {
	names := map[string]bool{}
	for _, iso := range m.ISOs {
		if !isoNameRE.MatchString(iso.Name) || names[iso.Name] {
			t.Fatalf("accepted bad or duplicate name %q", iso.Name)
		}
		names[iso.Name] = true
		c := iso.Checksum
		if (c.ListURL == "") == (c.Digest == "") || (iso.URL == "") == (iso.Path == "") {
			t.Fatalf("accepted ISO without exactly one checksum and one source: %+v", iso)
		}
		if _, msg := parseChecksumSpec(c.Spec()); msg != "" {
			t.Fatalf("Spec() %q does not parse: %s", c.Spec(), msg)
		}
	}
	if len(m.ISOs) == 0 || !names[m.Menu.Default] || len(m.Label) == 0 || len(m.Label) > 11 || len(m.Firmware) == 0 {
		t.Fatalf("accepted incomplete manifest: %+v", m)
	}
}

// FuzzParseLock: no panic, and an accepted lock survives Marshal unchanged.
func FuzzParseLock(f *testing.F) {
	addSeeds(f, "version: 1\nisos: []\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		defer watchdog(data)()
		l, err := ParseLock("f.lock", data)
		if err != nil {
			if l != nil || !errors.Is(err, ErrInvalid) {
				t.Fatalf("bad failure: %v", err)
			}
			return
		}
		out := l.Marshal()
		l2, err := ParseLock("f.lock", out)
		if err != nil {
			t.Fatalf("Marshal output does not parse: %v\n%s", err, out)
		}
		if string(l2.Marshal()) != string(out) {
			t.Fatalf("Marshal not stable:\n%s\n%s", out, l2.Marshal())
		}
	})
}

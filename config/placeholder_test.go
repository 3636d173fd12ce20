package config

import (
	"strings"
	"testing"
)

const sig = `
    signature:
      url: https://h/{version}/SHA256SUMS.sign
      key: {fingerprint: DF9B9C49EAA9298432589D76DA87E80D6294BE9B, url: https://h/key.asc}`

// Each rule of {version} and version: is refused at the field's line and
// column, naming the entry's field.
func TestPlaceholderRules(t *testing.T) {
	for _, c := range []struct {
		name, iso, want string
	}{
		{"inline digest", "url: https://h/d-{version}.iso\n    sha256: " + strings.Repeat("a", 64),
			"m.yaml:4:10: isos[0].url: {version} needs checksum: file:URL"},
		{"version without placeholder", "url: https://h/d.iso\n    version: '12.*'\n    checksum: file:https://h/SUMS",
			"m.yaml:5:14: isos[0].version: the url has no {version} for it to constrain"},
		{"bad constraint", "url: https://h/d-{version}.iso\n    version: latest\n    checksum: file:https://h/SUMS",
			`m.yaml:5:14: isos[0].version: version constraint "latest"`},
		{"list depends on the version it lists", "url: https://h/d-{version}.iso\n    checksum: file:https://h/{version}/SUMS",
			"m.yaml:5:15: isos[0].checksum: {version} here needs it in a directory of the url too"},
		{"placeholder only in the list", "url: https://h/d.iso\n    checksum: file:https://h/{version}/SUMS",
			"m.yaml:5:15: isos[0].checksum: {version} appears here but not in the url"},
		{"signature depends on the version", "url: https://h/d-{version}.iso\n    checksum: file:https://h/SUMS" + sig,
			"m.yaml:7:12: isos[0].signature.url: {version} here needs it in a directory of the url too"},
	} {
		src := "version: 1\nisos:\n  - name: d\n    " + c.iso + "\n"
		_, err := Parse("m.yaml", []byte(src), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}

func TestPlaceholderAccepted(t *testing.T) {
	for _, iso := range []string{
		"url: https://h/debian-{version}-amd64-netinst.iso\n    version: '12.*'\n    checksum: file:https://h/SHA256SUMS",
		"url: https://h/pub/rocky/{version}/isos/x86_64/Rocky-{version}-x86_64-minimal.iso\n    checksum: file:https://h/pub/rocky/{version}/isos/x86_64/CHECKSUM",
		"url: https://h/releases/{version}/d.iso\n    version: '>=24.04 <25'\n    checksum: file:https://h/releases/{version}/SHA256SUMS" + sig,
	} {
		src := "version: 1\nisos:\n  - name: d\n    " + iso + "\n"
		m, err := Parse("m.yaml", []byte(src), "")
		if err != nil {
			t.Errorf("%s: %v", iso, err)
			continue
		}
		at := m.ISOs[0].At("9.5")
		if strings.Contains(at.URL+at.ListURL+at.SignatureURL, Placeholder) {
			t.Errorf("At(9.5) left the placeholder: %+v", at)
		}
	}
}

// A lock pins a version: it stays current while the url at that version
// and the constraint agree, and drifts (at the manifest's line) when not.
// A lock without a version stays valid for a url without {version}.
func TestLockVersionCheck(t *testing.T) {
	manifest := func(constraint string) *Manifest {
		src := "version: 1\nisos:\n  - name: debian\n    url: https://h/debian-{version}-amd64-netinst.iso\n" + constraint +
			"    checksum: file:https://h/SHA256SUMS\n  - name: old\n    url: https://h/old.iso\n    checksum: file:https://h/SHA256SUMS\n"
		m, err := Parse("m.yaml", []byte(src), "")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	lock := func(v, url string) *Lock {
		d := strings.Repeat("a", 64)
		return &Lock{Version: 1, ISOs: []LockedISO{
			{Name: "debian", Version: v, URL: url, Source: "file:https://h/SHA256SUMS", Algorithm: "sha256", Digest: d, Size: 1},
			{Name: "old", URL: "https://h/old.iso", Source: "file:https://h/SHA256SUMS", Algorithm: "sha256", Digest: d, Size: 1}}}
	}
	const good = "https://h/debian-12.9.0-amd64-netinst.iso"
	for _, c := range []struct {
		name, constraint, v, url, want string
	}{
		{"current", "", "12.9.0", good, ""},
		{"current, constrained", "    version: '12.*'\n", "12.9.0", good, ""},
		{"outside the constraint", "    version: '13.*'\n", "12.9.0", good, "m.yaml:5:14: isos[0]: \"debian\" the locked version 12.9.0 is outside version: 13.*"},
		{"no version", "", "", good, "m.yaml:4:10: isos[0]: \"debian\" its url has {version}, but the lock pins no version"},
		{"url of another version", "", "12.9.0", "https://h/debian-12.8.0-amd64-netinst.iso", "changed its source since it was locked"},
	} {
		err := lock(c.v, c.url).Check(manifest(c.constraint))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
}

func TestLockVersionRoundTrip(t *testing.T) {
	l := &Lock{Version: 1, ISOs: []LockedISO{{Name: "debian", Version: "12.9.0", URL: "https://h/debian-12.9.0.iso",
		Source: "file:https://h/SHA256SUMS", Algorithm: "sha256", Digest: strings.Repeat("b", 64), Size: 7}}}
	back, err := ParseLock("l", l.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if back.ISOs[0].Version != "12.9.0" || !strings.Contains(string(l.Marshal()), "    version: 12.9.0\n") {
		t.Errorf("version lost: %+v\n%s", back.ISOs[0], l.Marshal())
	}
	bad := strings.Replace(string(l.Marshal()), "version: 12.9.0", "version: latest", 1)
	if _, err := ParseLock("l", []byte(bad)); err == nil || !strings.Contains(err.Error(), `isos[0].version: "latest" is not a version`) {
		t.Errorf("a lock with version: latest: %v", err)
	}
}

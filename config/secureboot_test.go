package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

var sbISO = "isos:\n  - {name: a, url: 'https://h/a.iso', sha256: '" + strings.Repeat("0", 64) + "'}\n"

func TestSecureBootMapping(t *testing.T) {
	src := "version: 1\nsecure_boot:\n  enroll: [canonical, keys/mine.cer, /abs/ca.pem]\n  sign_with: {key: mok/MOK.key, cert: mok/MOK.crt}\n" + sbISO
	m, err := Parse("m.yaml", []byte(src), "/kit")
	if err != nil {
		t.Fatal(err)
	}
	if !m.SecureBoot {
		t.Error("a secure_boot mapping must turn Secure Boot on")
	}
	o := m.SecureBootOptions
	want := []Enroll{{Name: "canonical", Pos: Pos{3, 12}}, {File: "keys/mine.cer", LocalFile: "/kit/keys/mine.cer", Pos: Pos{3, 23}},
		{File: "/abs/ca.pem", LocalFile: "/abs/ca.pem", Pos: Pos{3, 38}}}
	if len(o.Enroll) != len(want) {
		t.Fatalf("enroll = %+v", o.Enroll)
	}
	for i := range want {
		if o.Enroll[i] != want[i] {
			t.Errorf("enroll[%d] = %+v, want %+v", i, o.Enroll[i], want[i])
		}
	}
	if o.SignWith == nil || o.SignWith.LocalKey != filepath.Join("/kit", "mok/MOK.key") || o.SignWith.LocalCert != "/kit/mok/MOK.crt" {
		t.Errorf("sign_with = %+v", o.SignWith)
	}

	m, err = Parse("m.yaml", []byte("version: 1\nsecure_boot: true\n"+sbISO), "/kit")
	if err != nil || !m.SecureBoot || m.SecureBootOptions.Enroll != nil || m.SecureBootOptions.SignWith != nil {
		t.Errorf("secure_boot: true gave %+v, %v", m, err)
	}
	m, err = Parse("m.yaml", []byte("version: 1\nsecure_boot: {enroll: []}\n"+sbISO), "/kit")
	if err != nil || m.SecureBootOptions.Enroll == nil || len(m.SecureBootOptions.Enroll) != 0 {
		t.Errorf("enroll: [] must mean an empty set, not the default: %+v, %v", m, err)
	}
}

func TestSecureBootErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"bad item":       {"secure_boot: {enroll: [Canonical Ltd]}", `m.yaml:2:24: secure_boot.enroll[0]: "Canonical Ltd" is neither a certificate name`},
		"number item":    {"secure_boot: {enroll: [1]}", "m.yaml:2:24: secure_boot.enroll[0]: want a string"},
		"missing cert":   {"secure_boot: {sign_with: {key: k.pem}}", "m.yaml:2:26: secure_boot.sign_with: missing field cert"},
		"missing key":    {"secure_boot: {sign_with: {cert: c.pem}}", "m.yaml:2:26: secure_boot.sign_with: missing field key"},
		"unknown":        {"secure_boot: {enrol: [a]}", `m.yaml:2:15: secure_boot: unknown field "enrol" (did you mean "enroll"?)`},
		"url as key":     {"secure_boot: {sign_with: {key: 'https://h/k', cert: c.pem}}", "secure_boot.sign_with.key: \"https://h/k\" looks like a URL"},
		"string":         {"secure_boot: yes please", "m.yaml:2:14: secure_boot: want true or false, got a string"},
		"needs uefi x64": {"firmware: [bios]\nsecure_boot: {enroll: [a]}", "secure_boot: needs a UEFI target"},
	} {
		_, err := Parse("m.yaml", []byte("version: 1\n"+tc.src+"\n"+sbISO), "")
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", name, err, tc.want)
		}
	}
}

package config

import "testing"

// TestIPv6URLs: an IPv6 literal holds "::" but is no forced getter.
func TestIPv6URLs(t *testing.T) {
	for _, ok := range []string{"http://[::1]:8080/a.iso", "https://[2001:db8::7]/b.iso", "http://[fe80::1%25eth0]/c.iso"} {
		if msg := checkURL(ok); msg != "" {
			t.Errorf("%s refused: %s", ok, msg)
		}
	}
	for _, bad := range []string{"s3::https://h/b/k", "git::https://h/r"} {
		if msg := checkURL(bad); msg == "" {
			t.Errorf("%s accepted", bad)
		}
	}
}

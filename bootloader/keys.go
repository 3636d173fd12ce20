package bootloader

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Where compose puts Secure Boot material on the ESP. MokManager browses FAT file systems
// only, so everything a user enrols must be here, not inside an ISO.
const (
	KeysDir   = "/EFI/compose/keys"   // certificates to enrol, DER (<name>.cer)
	SignedDir = "/EFI/compose/signed" // payloads re-signed with the user's key (sign_with)
	HashDir   = "/EFI/compose/hash"   // unsigned payloads copied for "Enroll hash from disk"
)

// Certificate is one certificate the stick carries for enrolment with MokManager.
type Certificate struct {
	Name    string            `json:"name"`    // short, stable: the vendor, e.g. "canonical"
	Path    string            `json:"path"`    // on the ESP: KeysDir/<name>.cer
	Subject string            `json:"subject"` // distinguished name
	Issuer  string            `json:"issuer"`
	SHA256  string            `json:"sha256"` // fingerprint of the DER certificate, as MokManager shows it
	From    []string          `json:"from"`   // the ISOs whose payloads it signed, "sign_with", or the user's file
	DER     []byte            `json:"-"`
	X509    *x509.Certificate `json:"-"`
}

// Fingerprint is the SHA-256 of a certificate's DER encoding, lower-case hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

var nonName = regexp.MustCompile(`[^a-z0-9]+`)

// CertBase is a vendor's short name: the first word of the subject's organisation (else
// its common name), lower case — "Canonical Ltd." gives "canonical", "SUSE Linux Products
// GmbH" gives "suse".
func CertBase(c *x509.Certificate) string {
	src := c.Subject.CommonName
	if len(c.Subject.Organization) > 0 && c.Subject.Organization[0] != "" {
		src = c.Subject.Organization[0]
	}
	word := ""
	for _, f := range strings.Fields(strings.ToLower(src)) {
		if word = strings.Trim(nonName.ReplaceAllString(f, "-"), "-"); word != "" {
			break
		}
	}
	if word == "" {
		word = "key"
	}
	if len(word) > 20 {
		word = word[:20]
	}
	return word
}

// KeySet collects the certificates of a kit under unique short names. The same
// certificate added twice keeps its first name and gathers both sources; a different
// certificate whose vendor name is taken gets the name with its fingerprint's first 8
// digits ("canonical-1a2b3c4d"), so names depend only on the certificates, not the order
// of ISOs, unless two of them share a vendor.
type KeySet struct{ certs []Certificate }

// Add puts c in the set (once) and returns its entry. name, when not empty, is used
// instead of the vendor name (a user's certificate file).
func (k *KeySet) Add(c *x509.Certificate, from, name string) Certificate {
	fp := Fingerprint(c)
	for i := range k.certs {
		if k.certs[i].SHA256 == fp {
			if !contains(k.certs[i].From, from) {
				k.certs[i].From = append(k.certs[i].From, from)
			}
			return k.certs[i]
		}
	}
	if name == "" {
		name = CertBase(c)
	}
	if k.taken(name) {
		name = fmt.Sprintf("%s-%s", name, fp[:8])
	}
	e := Certificate{Name: name, Path: path.Join(KeysDir, name+".cer"), Subject: c.Subject.String(),
		Issuer: c.Issuer.String(), SHA256: fp, From: []string{from}, DER: c.Raw, X509: c}
	k.certs = append(k.certs, e)
	return e
}

func (k *KeySet) taken(name string) bool {
	for _, c := range k.certs {
		if c.Name == name {
			return true
		}
	}
	return false
}

// Certificates lists the set in the order added.
func (k *KeySet) Certificates() []Certificate { return k.certs }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package config

import (
	"path/filepath"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// SecureBootOptions are the settings of a `secure_boot:` mapping (writing
// the mapping turns Secure Boot on, like `secure_boot: true`).
type SecureBootOptions struct {
	// Enroll restricts and extends the certificates put on the stick for
	// enrolment with MokManager. Nil (the field left out) means every
	// certificate the kit needs: each ISO's untrusted signer and the
	// sign_with certificate.
	Enroll   []Enroll  `yaml:"enroll"`
	SignWith *SignWith `yaml:"sign_with"`
}

// Enroll is one item of secure_boot.enroll: the short name of a
// certificate taken from an ISO ("canonical"), or a certificate file of
// the user's (DER or PEM), relative to the manifest.
type Enroll struct {
	Name      string
	File      string
	LocalFile string // File resolved against the manifest's directory
	Pos       Pos
}

// SignWith is the user's Machine Owner Key pair: compose signs every
// payload the kit's shim would refuse with it (Authenticode), and puts
// the certificate on the stick for enrolment.
type SignWith struct {
	Key       string `yaml:"key"`  // PEM private key (RSA or ECDSA), unencrypted
	Cert      string `yaml:"cert"` // its X.509 certificate, PEM or DER
	LocalKey  string `yaml:"-"`
	LocalCert string `yaml:"-"`
}

var (
	secureBootFields = []string{"enroll", "sign_with"}
	signWithFields   = []string{"key", "cert"}
	// CertNameRe is the form of a certificate's short name on the stick
	// (/EFI/compose/keys/<name>.cer).
	CertNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	certExts   = []string{".cer", ".crt", ".der", ".pem"}
)

// secureBootValue reads `secure_boot:`, a boolean or a mapping of options.
func (d *decoder) secureBootValue(v *yaml.Node, m *Manifest) {
	if v.Kind != yaml.MappingNode {
		m.SecureBoot, _ = d.boolean(v, "secure_boot")
		return
	}
	m.SecureBoot = true
	o := &m.SecureBootOptions
	d.fields(v, "secure_boot", secureBootFields, func(key string, v *yaml.Node) {
		switch key {
		case "enroll":
			o.Enroll = []Enroll{}
			d.list(v, "secure_boot.enroll", func(i int, item *yaml.Node, p string) {
				if e, ok := d.enrollItem(item, p, m.Dir); ok {
					o.Enroll = append(o.Enroll, e)
				}
			})
		case "sign_with":
			o.SignWith = &SignWith{}
			d.signWith(v, o.SignWith, m.Dir)
		}
	})
}

func (d *decoder) enrollItem(v *yaml.Node, p, dir string) (Enroll, bool) {
	s, ok := d.str(v, p)
	if !ok {
		return Enroll{}, false
	}
	e := Enroll{Pos: Pos{v.Line, v.Column}}
	ext := strings.ToLower(filepath.Ext(s))
	switch {
	case CertNameRe.MatchString(s):
		e.Name = s
	case strings.ContainsRune(s, '/') || contains(certExts, ext):
		if !d.localPath(v, p, s) {
			return Enroll{}, false
		}
		e.File, e.LocalFile = s, resolvePath(dir, s)
	default:
		d.errAt(v, "%s: %q is neither a certificate name (lower-case letters, digits and -, as `compose plan` lists them) nor a certificate file (.cer, .crt, .der or .pem)", p, s)
		return Enroll{}, false
	}
	return e, true
}

func (d *decoder) signWith(v *yaml.Node, s *SignWith, dir string) {
	ok := d.fields(v, "secure_boot.sign_with", signWithFields, func(key string, v *yaml.Node) {
		p := "secure_boot.sign_with." + key
		str, ok := d.str(v, p)
		if !ok || !d.localPath(v, p, str) {
			return
		}
		if key == "key" {
			s.Key, s.LocalKey = str, resolvePath(dir, str)
		} else {
			s.Cert, s.LocalCert = str, resolvePath(dir, str)
		}
	})
	if ok && s.Key == "" {
		if _, seen := d.pos["secure_boot.sign_with.key"]; !seen {
			d.errAt(v, "secure_boot.sign_with: missing field key (the PEM private key of your MOK; `compose init` shows how to make one)")
		}
	}
	if ok && s.Cert == "" {
		if _, seen := d.pos["secure_boot.sign_with.cert"]; !seen {
			d.errAt(v, "secure_boot.sign_with: missing field cert (the certificate of that key)")
		}
	}
}

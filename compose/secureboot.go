package compose

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/bootloader/authenticode"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
)

// Secure Boot plan for one entry whose payload Debian's shim does not trust.
type EntrySecureBoot struct {
	// Enrol lists the certificates that make the entry boot once enrolled with
	// MokManager (the vendor's, or the sign_with certificate for a re-signed copy).
	Enrol []bootloader.Certificate `json:"enrol,omitempty"`
	// Copy is the payload's copy on the ESP that the entry loads instead of the ISO's:
	// signed with sign_with, or kept as is for "Enroll hash from disk".
	Copy string `json:"copy,omitempty"`
	// Signed tells whether Copy was signed with the sign_with key.
	Signed bool `json:"signed,omitempty"`
	// Action says in words what the user does once per machine.
	Action string `json:"action"`
}

// loadSignKey reads sign_with's key pair; a missing or unreadable file is an error at its
// manifest position, before anything is built.
func loadSignKey(m *config.Manifest) (*authenticode.KeyPair, error) {
	sw := m.SecureBootOptions.SignWith
	if !m.SecureBoot || sw == nil {
		return nil, nil
	}
	kp, err := authenticode.LoadKeyPair(sw.LocalKey, sw.LocalCert)
	if err != nil {
		field := "secure_boot.sign_with.key"
		if strings.HasPrefix(err.Error(), "certificate") {
			field = "secure_boot.sign_with.cert"
		}
		return nil, fmt.Errorf("%s: %w", m.Diag(field, "%s", field).String(), err)
	}
	return &kp, nil
}

// secureBoot decides, for every entry the kit's shim would refuse, what makes it boot:
// enrolling its vendor's certificate, or a copy re-signed with the user's key, or a copy
// whose hash the user enrols. It fills p.Keys, each entry's Secure Boot plan and the files
// that go to /EFI/compose on the ESP.
func (p *Plan) secureBoot(m *config.Manifest, kp *authenticode.KeyPair) error {
	if !m.SecureBoot {
		return nil
	}
	var vendors bootloader.KeySet
	for _, e := range p.Entries {
		if r := e.SecureBoot; r != nil && !r.Boots && r.Trust == bootloader.TrustOther {
			for i, c := range r.Certs {
				name := "" // the signer: the vendor's name
				if i > 0 {
					name = bootloader.CertBase(c) + "-ca" // a CA of the signature's chain
				}
				vendors.Add(c, e.Name, name)
			}
		}
	}
	keys, err := p.selectKeys(m, &vendors)
	if err != nil {
		return err
	}
	var mine bootloader.Certificate
	if kp != nil {
		mine = keys.Add(kp.Cert, "sign_with", "")
	}
	for i := range p.Entries {
		if err := p.entrySecureBoot(&p.Entries[i], keys, kp, mine); err != nil {
			return err
		}
	}
	p.Keys = keys.Certificates()
	for _, c := range p.Keys {
		p.espExtra = append(p.espExtra, disk.File{Path: c.Path, Data: c.DER})
	}
	return nil
}

// selectKeys applies secure_boot.enroll: without it every vendor certificate goes on the
// stick; with it only the names listed, plus the user's certificate files.
func (p *Plan) selectKeys(m *config.Manifest, vendors *bootloader.KeySet) (*bootloader.KeySet, error) {
	list := m.SecureBootOptions.Enroll
	if list == nil {
		return vendors, nil
	}
	var out bootloader.KeySet
	for i, item := range list {
		field := fmt.Sprintf("secure_boot.enroll[%d]", i)
		if item.File != "" {
			c, err := authenticode.LoadCert(item.LocalFile)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", m.Diag(field, "%s", field).String(), err)
			}
			out.Add(c, item.File, certFileName(item.File))
			continue
		}
		found := false
		for _, c := range vendors.Certificates() {
			if c.Name == item.Name {
				out.Add(c.X509, strings.Join(c.From, ", "), c.Name)
				found = true
			}
		}
		if !found && p.Ready {
			return nil, fmt.Errorf("%s", m.Diag(field, "%s: no ISO of this kit is signed by a certificate named %q (the kit's certificates: %s)",
				field, item.Name, names(vendors.Certificates())).String())
		}
	}
	return &out, nil
}

// entrySecureBoot plans one entry (see secureBoot).
func (p *Plan) entrySecureBoot(e *EntryPlan, keys *bootloader.KeySet, kp *authenticode.KeyPair, mine bootloader.Certificate) error {
	r := e.SecureBoot
	if r == nil || r.Boots {
		return nil
	}
	sb := &EntrySecureBoot{}
	if r.Trust == bootloader.TrustOther {
		for _, c := range keys.Certificates() {
			for _, rc := range r.Certs {
				if c.SHA256 == bootloader.Fingerprint(rc) {
					sb.Enrol = append(sb.Enrol, c)
				}
			}
		}
	}
	switch {
	case len(sb.Enrol) > 0:
		sb.Action = "enrol once with MokManager: " + paths(sb.Enrol)
	case e.payload == nil:
		p.Warnings = append(p.Warnings, secureBootWarning(e.Name, *r))
		return nil
	case kp != nil:
		signed, err := authenticode.Sign(e.payload, *kp)
		if err != nil {
			return fmt.Errorf("%s: signing %s with sign_with's key: %w", e.Name, r.Payload, err)
		}
		sb.Copy, sb.Signed, sb.Enrol = copyPath(bootloader.SignedDir, e.Name, r.Payload), true, []bootloader.Certificate{mine}
		sb.Action = "signed with your key (sign_with); enrol once with MokManager: " + mine.Path
		p.espExtra = append(p.espExtra, disk.File{Path: sb.Copy, Data: signed})
	case r.Trust == bootloader.TrustUnsigned:
		sb.Copy = copyPath(bootloader.HashDir, e.Name, r.Payload)
		sb.Action = "unsigned: enrol its hash once with MokManager (Enroll hash from disk: " + sb.Copy + "), or set secure_boot.sign_with"
		p.espExtra = append(p.espExtra, disk.File{Path: sb.Copy, Data: e.payload})
	default:
		p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s is signed by %s, whose certificate secure_boot.enroll leaves out: it will not boot with Secure Boot on; add it to enroll or set sign_with", e.Name, r.Payload, r.Signer))
		return nil
	}
	e.SecureBootPlan = sb
	return nil
}

// copyPath is where an entry's payload copy goes: <dir>/<entry>/<file name>.
func copyPath(dir, entry, payload string) string {
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, path.Base(payload))
	if base == "efi.img" { // the loader inside an EFI boot image
		base = "bootx64.efi"
	}
	return path.Join(dir, entry, base)
}

// certFileName names a user's certificate file on the stick after its base name.
func certFileName(file string) string {
	base := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	s := strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, base), "-")
	if s == "" {
		return "mine"
	}
	return s
}

func names(cs []bootloader.Certificate) string {
	if len(cs) == 0 {
		return "none"
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return strings.Join(out, ", ")
}

func paths(cs []bootloader.Certificate) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Path)
	}
	return strings.Join(out, " or ")
}

// keyPaths are the ESP paths of the kit's certificates, for the MokManager entry.
func (p *Plan) keyPaths() []string {
	var out []string
	for _, c := range p.Keys {
		out = append(out, c.Path)
	}
	return out
}

// copies maps the entry's payload in the ISO to its copy on the ESP, if it has one.
func (e EntryPlan) copies() map[string]string {
	if e.SecureBootPlan == nil || e.SecureBootPlan.Copy == "" {
		return nil
	}
	return map[string]string{e.SecureBoot.Payload: e.SecureBootPlan.Copy}
}

package compose

import (
	"fmt"

	"github.com/usbkit/compose/compose/imagefile"
	"github.com/usbkit/compose/config"
)

// NamedFile is a file the manifest names, with the field that names it.
type NamedFile struct {
	Path  string // resolved against the manifest's directory
	Field string // "isos[2].path", "secure_boot.sign_with.key"…
	What  string // "the ISO alpha", "the Secure Boot signing key"…
}

// NamedFiles lists every file the manifest names: path: ISOs, the OpenPGP
// key files of checksum signatures, the Secure Boot signing key and
// certificate, and the certificates to enrol. (The lock names the same
// path: ISOs.)
func (k *Kit) NamedFiles() []NamedFile {
	var out []NamedFile
	add := func(path, field, what string) {
		if path != "" {
			out = append(out, NamedFile{Path: path, Field: field, What: what})
		}
	}
	for i, iso := range k.m.ISOs {
		add(iso.LocalPath, fmt.Sprintf("isos[%d].path", i), "the ISO "+iso.Name)
		if iso.Signature != nil {
			add(iso.Signature.Key.LocalFile, fmt.Sprintf("isos[%d].signature.key.file", i), "the OpenPGP key that signs "+iso.Name+"'s checksums")
		}
	}
	sb := k.m.SecureBootOptions
	if sb.SignWith != nil {
		add(sb.SignWith.LocalKey, "secure_boot.sign_with.key", "the Secure Boot signing key")
		add(sb.SignWith.LocalCert, "secure_boot.sign_with.cert", "the Secure Boot signing certificate")
	}
	for i, e := range sb.Enroll {
		add(e.LocalFile, fmt.Sprintf("secure_boot.enroll[%d]", i), "a certificate to enrol")
	}
	return out
}

// openImage opens the image path for apply (write) or plan: it refuses,
// before anything is fetched or built, a path whose replacement would
// destroy something (see refuseImage), and holds what it checked.
func (k *Kit) openImage(path string, mode imagefile.Mode) (*imagefile.Held, error) {
	if path == "" {
		return nil, nil
	}
	return imagefile.Open(path, mode, k.refuseImage)
}

// refuseImage says why the held image path must not be written, or "":
// it is the manifest, its lock, a file the manifest names or in the ISO
// cache (heldImage.refuse checks the rest).
func (k *Kit) refuseImage(h *imagefile.Held) string {
	manifest := config.ManifestName(k.m)
	protected := []NamedFile{{Path: k.lockPath, What: "the manifest's lock"}}
	if k.m.File != config.StdinName {
		protected = append(protected, NamedFile{Path: k.m.File, What: "the manifest"})
	}
	protected = append(protected, k.NamedFiles()...)
	for _, p := range protected {
		switch {
		case !h.Is(p.Path):
		case p.Field == "":
			return "it is " + p.What
		default:
			return fmt.Sprintf("it is %s (%s in %s)", p.What, p.Field, manifest)
		}
	}
	if f, err := k.fetcher(); err == nil && imagefile.Inside(h.DirPath(), f.CacheDir()) {
		return "it is inside the ISO cache " + f.CacheDir()
	}
	return ""
}

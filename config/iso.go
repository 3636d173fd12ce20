package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v3"

	"github.com/usbkit/compose/config/digest"
)

var isoFields = []string{"name", "title", "url", "version", "path", "sha256", "sha512", "checksum",
	"signature", "boot", "kernel", "initrd", "args", "expect", "persistence", "unattend"}

// iso decodes one entry of isos at path p.
func (d *decoder) iso(n *yaml.Node, p string, iso *ISO, dir string) {
	var sums []string // checksum keys given, in file order
	d.fields(n, p, isoFields, func(key string, v *yaml.Node) {
		fp := p + "." + key
		switch key {
		case "name":
			if s, ok := d.str(v, fp); ok && d.isoName(v, fp, s) {
				iso.Name = s
			}
		case "title":
			if s, ok := d.str(v, fp); ok && d.within(v, fp, s, MaxTitle) && d.text(v, fp, s) {
				iso.Title = s
			}
		case "url":
			if s, ok := d.str(v, fp); ok && d.sourceURL(v, fp, s) {
				iso.URL = s
			}
		case "version":
			if s, ok := d.str(v, fp); ok && d.constraint(v, fp, s) {
				iso.Version = s
			}
		case "path":
			if s, ok := d.str(v, fp); ok && d.localPath(v, fp, s) {
				iso.Path, iso.LocalPath = s, resolvePath(dir, s)
			}
		case "sha256", "sha512":
			sums = append(sums, key)
			if s, ok := d.str(v, fp); ok {
				d.digest(v, fp, key, s, &iso.Checksum)
			}
		case "checksum":
			sums = append(sums, key)
			if s, ok := d.str(v, fp); ok {
				d.checksumSpec(v, fp, s, &iso.Checksum)
			}
		case "signature":
			iso.Signature = &Signature{}
			d.signature(v, fp, iso.Signature, dir)
		case "boot":
			if s, ok := d.enum(v, fp, bootNames()); ok {
				iso.Boot = BootFamily(s)
			}
		case "kernel":
			if s, ok := d.str(v, fp); ok && d.isoPath(v, fp, s) {
				iso.Kernel = s
			}
		case "initrd":
			iso.Initrd = d.initrd(v, fp)
		case "args":
			if s, ok := d.str(v, fp); ok && d.within(v, fp, s, MaxArgs) && d.text(v, fp, s) {
				iso.Args = s
			}
		case "expect":
			if s, ok := d.str(v, fp); ok && d.regexp(v, fp, s) {
				iso.Expect = s
			}
		case "persistence":
			d.persistence(v, fp, &iso.Persistence)
		case "unattend":
			if s, ok := d.str(v, fp); ok && d.localPath(v, fp, s) {
				iso.Unattend, iso.LocalUnattend = s, resolvePath(dir, s)
			}
		}
	})
	if n.Kind == yaml.MappingNode {
		d.isoRules(n, p, iso, sums)
	}
}

func bootNames() []string {
	out := make([]string, len(BootFamilies))
	for i, b := range BootFamilies {
		out[i] = string(b)
	}
	return out
}

// isoRules checks what involves more than one field of an entry.
func (d *decoder) isoRules(n *yaml.Node, p string, iso *ISO, sums []string) {
	if _, ok := d.pos[p+".name"]; !ok {
		d.errAt(n, "%s: missing field name", p)
	}
	_, hasURL := d.pos[p+".url"]
	_, hasPath := d.pos[p+".path"]
	switch {
	case hasURL && hasPath:
		d.errPath(p+".path", "%s: give url or path, not both", p)
	case !hasURL && !hasPath:
		d.errAt(n, "%s: missing url or path: say where the ISO comes from", p)
	}
	switch {
	case len(sums) == 0:
		d.errAt(n, "%s: missing checksum: add sha256, sha512 or checksum: file:URL (checksums are mandatory)", p)
	case len(sums) > 1:
		d.errPath(p+"."+sums[1], "%s: give one checksum, not both %s and %s", p, sums[0], sums[1])
	}
	if _, has := d.pos[p+".signature"]; has && len(sums) == 1 && (sums[0] != "checksum" || iso.Checksum.Digest != "") {
		d.errPath(p+".signature", "%s.signature: a signature covers a checksum list: it needs checksum: file:URL, not an inline digest", p)
	}
	d.bootRules(p, iso)
	d.persistenceRule(p, iso)
	d.placeholderRules(p, iso)
	if iso.Title == "" {
		iso.Title = iso.Name
	}
}

// bootRules rejects overrides that contradict each other.
func (d *decoder) bootRules(p string, iso *ISO) {
	_, hasKernel := d.pos[p+".kernel"]
	_, hasInitrd := d.pos[p+".initrd"]
	_, hasArgs := d.pos[p+".args"]
	switch {
	case hasKernel && !hasInitrd:
		d.errPath(p+".kernel", "%s: kernel needs initrd too (give both or neither)", p)
	case hasInitrd && !hasKernel:
		d.errPath(p+".initrd", "%s: initrd needs kernel too (give both or neither)", p)
	}
	switch iso.Boot {
	case BootLinux:
		if !hasKernel && !hasInitrd {
			d.errPath(p+".boot", "%s: boot: linux needs kernel and initrd (paths inside the ISO)", p)
		}
	case BootEFI, BootLoopbackCfg:
		for _, f := range []struct {
			has  bool
			name string
		}{{hasKernel, "kernel"}, {hasInitrd, "initrd"}, {hasArgs, "args"}} {
			if f.has {
				d.errPath(p+"."+f.name, "%s: %s conflicts with boot: %s (that entry does not start a kernel itself)", p, f.name, iso.Boot)
			}
		}
	}
}

var isoNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func (d *decoder) isoName(v *yaml.Node, p, s string) bool {
	switch {
	case len(s) > 63:
		d.errAt(v, "%s: %q is longer than 63 characters", p, s)
	case !isoNameRE.MatchString(s):
		d.errAt(v, "%s: %q is not a valid name: use a-z, 0-9 and -, starting with a letter or digit", p, s)
	default:
		return true
	}
	return false
}

// text refuses control characters: titles and arguments end up in grub.cfg.
func (d *decoder) text(v *yaml.Node, p, s string) bool {
	for i, r := range s {
		if unicode.IsControl(r) {
			d.errAt(v, "%s: control character %q at offset %d is not allowed", p, r, i)
			return false
		}
	}
	return true
}

var sourceSchemes = []string{"http", "https", "s3"}

// sourceURL checks a URL compose downloads from.
func (d *decoder) sourceURL(v *yaml.Node, p, s string) bool {
	if msg := checkURL(s); msg != "" {
		d.errAt(v, "%s: %s", p, msg)
		return false
	}
	return true
}

// forcedGetterRE is go-getter's "getter::url" prefix.
var forcedGetterRE = regexp.MustCompile(`^[A-Za-z0-9]+::`)

func checkURL(s string) string {
	if s == "" {
		return "empty URL"
	}
	if forcedGetterRE.MatchString(s) { // not "::" anywhere: an IPv6 literal has it too
		return fmt.Sprintf("%q: forced getters (s3::…) are not supported; write s3://bucket/key or an https URL", s)
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a valid URL", s)
	}
	switch scheme := strings.ToLower(u.Scheme); {
	case scheme == "":
		return fmt.Sprintf("%q has no scheme: write an http, https or s3 URL, or use path: for a local file", s)
	case scheme == "file":
		return fmt.Sprintf("%q: file URLs are not supported; use path: for a local file", s)
	case !contains(sourceSchemes, scheme):
		return fmt.Sprintf("unsupported URL scheme %q (want http, https or s3)", u.Scheme)
	case u.Host == "":
		return fmt.Sprintf("%q has no host", s)
	case u.User != nil:
		return fmt.Sprintf("%q carries credentials (user@ or user:password@); keep them out of the manifest", redact(u))
	case scheme == "s3" && strings.Trim(u.Path, "/") == "":
		return fmt.Sprintf("%q names no object: write s3://bucket/key", s)
	}
	for _, magic := range []string{"checksum", "archive", "filename"} {
		if u.Query().Has(magic) {
			return fmt.Sprintf("query parameter %q is not allowed: write checksums and names as manifest fields", magic)
		}
	}
	return ""
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

func (d *decoder) localPath(v *yaml.Node, p, s string) bool {
	switch {
	case s == "":
		d.errAt(v, "%s: empty path", p)
	case strings.ContainsRune(s, 0):
		d.errAt(v, "%s: NUL in path", p)
	case strings.Contains(s, "://"):
		d.errAt(v, "%s: %q looks like a URL; use url: for downloads", p, s)
	case strings.HasPrefix(s, "~"):
		d.errAt(v, "%s: %q: ~ is not expanded; write a path relative to the manifest or an absolute one", p, s)
	default:
		return true
	}
	return false
}

func resolvePath(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return filepath.Clean(p)
	}
	return filepath.Join(dir, p)
}

// isoPath checks a path inside the ISO: absolute, clean, no blanks (the
// initramfs scripts that receive them split on spaces).
func (d *decoder) isoPath(v *yaml.Node, p, s string) bool {
	switch {
	case !strings.HasPrefix(s, "/"):
		d.errAt(v, "%s: %q must be an absolute path inside the ISO (start with /)", p, s)
	case path.Clean(s) != s || s == "/":
		d.errAt(v, "%s: %q is not a clean file path (no .., //, trailing /)", p, s)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		d.errAt(v, "%s: %q contains blanks or control characters", p, s)
	default:
		return true
	}
	return false
}

// initrd accepts one path or a list of paths (microcode first, as archiso).
func (d *decoder) initrd(v *yaml.Node, p string) []string {
	if v.Kind == yaml.ScalarNode {
		if s, ok := d.str(v, p); ok && d.isoPath(v, p, s) {
			return []string{s}
		}
		return nil
	}
	var out []string
	ok := d.list(v, p, func(i int, item *yaml.Node, ip string) {
		if s, ok := d.str(item, ip); ok && d.isoPath(item, ip, s) {
			out = append(out, s)
		}
	})
	if ok && len(v.Content) == 0 {
		d.errAt(v, "%s: empty list", p)
	}
	return out
}

func (d *decoder) regexp(v *yaml.Node, p, s string) bool {
	if s == "" {
		d.errAt(v, "%s: empty pattern would match anything", p)
		return false
	}
	if _, err := regexp.Compile(s); err != nil {
		d.errAt(v, "%s: not a valid regular expression: %v", p, err)
		return false
	}
	return true
}

// digest checks an inline digest for algorithm alg and stores it lower-cased.
func (d *decoder) digest(v *yaml.Node, p, alg, s string, out *Checksum) {
	if msg := checkDigest(alg, s); msg != "" {
		d.errAt(v, "%s: %s", p, msg)
		return
	}
	out.Algorithm, out.Digest = alg, strings.ToLower(s)
}

func checkDigest(alg, s string) string {
	want := digest.HexLen(alg)
	if len(s) != want {
		return fmt.Sprintf("a %s digest has %d hex digits, got %d", alg, want, len(s))
	}
	if _, err := hex.DecodeString(s); err != nil {
		i := strings.IndexFunc(s, func(r rune) bool { return !strings.ContainsRune("0123456789abcdefABCDEF", r) })
		return fmt.Sprintf("not hexadecimal: %q at offset %d", s[i:i+1], i)
	}
	return ""
}

// checksumSpec parses `checksum:` values: file:URL, sha256:HEX, sha512:HEX.
func (d *decoder) checksumSpec(v *yaml.Node, p, s string, out *Checksum) {
	c, msg := parseChecksumSpec(s)
	if msg != "" {
		d.errAt(v, "%s: %s", p, msg)
		return
	}
	*out = c
}

func parseChecksumSpec(s string) (Checksum, string) {
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case !ok:
		return Checksum{}, fmt.Sprintf("%q: want file:URL, sha256:HEX or sha512:HEX", s)
	case kind == "file":
		if msg := checkURL(rest); msg != "" {
			return Checksum{}, "checksum list: " + msg
		}
		return Checksum{ListURL: rest}, ""
	case kind == "sha256" || kind == "sha512":
		if msg := checkDigest(kind, rest); msg != "" {
			return Checksum{}, msg
		}
		return Checksum{Algorithm: kind, Digest: strings.ToLower(rest)}, ""
	case kind == "md5" || kind == "sha1":
		return Checksum{}, fmt.Sprintf("%s is too weak to trust; use sha256 or sha512", kind)
	}
	return Checksum{}, fmt.Sprintf("unknown checksum type %q: want file:URL, sha256:HEX or sha512:HEX", kind)
}

var (
	signatureFields = []string{"url", "key"}
	keyFields       = []string{"fingerprint", "url", "file"}
)

func (d *decoder) signature(v *yaml.Node, p string, sig *Signature, dir string) {
	hasKey := false
	ok := d.fields(v, p, signatureFields, func(key string, v *yaml.Node) {
		switch key {
		case "url":
			if s, ok := d.str(v, p+".url"); ok && d.sourceURL(v, p+".url", s) {
				sig.URL = s
			}
		case "key":
			hasKey = true
			d.key(v, p+".key", &sig.Key, dir)
		}
	})
	if ok && !hasKey {
		d.errAt(v, "%s: missing field key: name the key that signs the list (fingerprint, and url or file)", p)
	}
}

func (d *decoder) key(v *yaml.Node, p string, k *Key, dir string) {
	var fp, src bool
	ok := d.fields(v, p, keyFields, func(key string, v *yaml.Node) {
		switch key {
		case "fingerprint":
			fp = true
			if s, ok := d.str(v, p+".fingerprint"); ok {
				d.fingerprint(v, p+".fingerprint", s, k)
			}
		case "url":
			if src {
				d.errAt(v, "%s: give url or file, not both", p)
			}
			src = true
			if s, ok := d.str(v, p+".url"); ok && d.sourceURL(v, p+".url", s) {
				k.URL = s
			}
		case "file":
			if src {
				d.errAt(v, "%s: give url or file, not both", p)
			}
			src = true
			if s, ok := d.str(v, p+".file"); ok && d.localPath(v, p+".file", s) {
				k.File, k.LocalFile = s, resolvePath(dir, s)
			}
		}
	})
	if ok && !fp {
		d.errAt(v, "%s: missing field fingerprint", p)
	}
	if ok && !src {
		d.errAt(v, "%s: missing url or file: say where the key comes from", p)
	}
}

// fingerprint accepts the usual spaced form ("DF9B 9C49 …") and stores the
// digits upper-cased without blanks.
func (d *decoder) fingerprint(v *yaml.Node, p, s string, k *Key) {
	f := strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	if _, err := hex.DecodeString(f); err != nil || (len(f) != 40 && len(f) != 64) {
		d.errAt(v, "%s: %q is not an OpenPGP fingerprint (40 hex digits for a v4 key, 64 for v6)", p, s)
		return
	}
	k.Fingerprint = f
}

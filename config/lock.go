package config

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/usbkit/compose/config/atomicfile"
	"github.com/usbkit/compose/config/digest"
	"github.com/usbkit/compose/config/version"
)

// LockName is the lock file's conventional name, next to multiboot.yaml.
const LockName = "multiboot.lock"

// LockPath is where the lock of m lives: beside it, named after it
// (rescue.yaml → rescue.lock), so that kits sharing a directory keep their
// own pins. A manifest read from standard input uses LockName in the
// working directory.
func LockPath(m *Manifest) string {
	name := ManifestName(m)
	dir := m.Dir
	if m.File != StdinName && m.File != "" {
		dir = filepath.Dir(m.File) // as the user named it, for messages
	}
	return filepath.Join(dir, strings.TrimSuffix(name, filepath.Ext(name))+".lock")
}

// ManifestName is the manifest's file name as a lock records it; standard
// input counts as multiboot.yaml.
func ManifestName(m *Manifest) string {
	if m.File == StdinName || m.File == "" {
		return "multiboot.yaml"
	}
	return filepath.Base(m.File)
}

// ErrForeignLock is matched (errors.Is) when the lock beside a manifest
// was written for another manifest: it is refused, never overwritten.
var ErrForeignLock = errors.New("the lock file belongs to another manifest")

// CheckOwner refuses a lock written for another manifest than m. A lock
// that records no manifest (written before locks did) is accepted.
func (l *Lock) CheckOwner(m *Manifest) error {
	if l.Manifest == "" || l.Manifest == ManifestName(m) {
		return nil
	}
	file := l.File
	if file == "" {
		file = LockName
	}
	return fmt.Errorf("%s was written for %s, not %s: %w; move it away or give this manifest its own name", file, l.Manifest, ManifestName(m), ErrForeignLock)
}

// Lock pins what every ISO of a manifest resolved to, so a kit rebuilds
// bit for bit and `git diff` of an update is readable.
type Lock struct {
	Version int `yaml:"version"`
	// Manifest is the file name of the manifest the lock pins
	// ("rescue.yaml"); see CheckOwner.
	Manifest string      `yaml:"manifest,omitempty"`
	ISOs     []LockedISO `yaml:"isos"`

	// File is the name used in messages; Positions maps field paths
	// ("isos[1].digest") to where they start, as Manifest.Positions.
	File      string         `yaml:"-"`
	Positions map[string]Pos `yaml:"-"`
}

// LockedISO is one pinned ISO.
type LockedISO struct {
	Name string `yaml:"name" json:"name"`
	// Version is the release the manifest's {version} resolved to; empty
	// for an ISO whose url has no placeholder (and in locks from before).
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	// URL or Path as written in the manifest, exactly one set; a url with
	// {version} is recorded with Version in its place.
	URL  string `yaml:"url,omitempty" json:"url,omitempty"`
	Path string `yaml:"path,omitempty" json:"path,omitempty"`
	// Source is the manifest's checksum as Checksum.Spec gives it
	// ("file:https://…/SHA256SUMS", "sha256:…"), to notice edits.
	Source    string `yaml:"source" json:"source"`
	Algorithm string `yaml:"algorithm" json:"algorithm"` // sha256 or sha512
	Digest    string `yaml:"digest" json:"digest"`       // lower-case hex
	Size      int64  `yaml:"size" json:"size"`           // bytes

	// Pos is where the entry is in the lock file (for errors), not data:
	// compose lock --json leaves it out.
	Pos Pos `yaml:"-" json:"-"`
}

// Lock builds a lock entry for iso with the digest and size found for it.
func (iso *ISO) Lock(algorithm, digest string, size int64) LockedISO {
	return iso.LockAt("", algorithm, digest, size)
}

// LockAt builds a lock entry for iso resolved to version v ("" for an ISO
// without {version}).
func (iso *ISO) LockAt(v, algorithm, digest string, size int64) LockedISO {
	return LockedISO{Name: iso.Name, Version: v, URL: iso.At(v).URL, Path: iso.Path, Source: iso.Checksum.Spec(),
		Algorithm: algorithm, Digest: digest, Size: size}
}

// Pins reports whether e still pins what iso names: the same source (its
// url resolved at e's version), the same checksum, and a version that
// the constraint admits. "" is yes; else why not, for Check.
func (e *LockedISO) Pins(iso *ISO) (field, why string) {
	switch {
	case iso.Templated() && e.Version == "":
		return "url", fmt.Sprintf("its url has %s, but the lock pins no version (locked: %s)", Placeholder, e.URL+e.Path)
	case !iso.Templated() && e.Version != "":
		return "url", fmt.Sprintf("changed its source since it was locked (locked: %s, version %s)", e.URL, e.Version)
	case iso.At(e.Version).URL != e.URL || e.Path != iso.Path:
		return "url", fmt.Sprintf("changed its source since it was locked (locked: %s)", e.URL+e.Path)
	case e.Source != iso.Checksum.Spec():
		return "checksum", fmt.Sprintf("changed its checksum since it was locked (locked: %s)", e.Source)
	}
	if v, err := version.Parse(e.Version); iso.Templated() && (err != nil || !iso.Constraint().Admits(v)) {
		return "version", fmt.Sprintf("the locked version %s is outside version: %s", e.Version, iso.Version)
	}
	return "", ""
}

// ISO returns the entry called name, or nil.
func (l *Lock) ISO(name string) *LockedISO {
	for i := range l.ISOs {
		if l.ISOs[i].Name == name {
			return &l.ISOs[i]
		}
	}
	return nil
}

// LoadLock reads and validates a lock file. Like Load, an invalid file
// gives Diagnostics (errors.Is ErrInvalid); a missing one an error that
// errors.Is(err, fs.ErrNotExist).
func LoadLock(path string) (*Lock, error) {
	data, name, _, err := readInput(path, "lock file")
	if err != nil {
		return nil, err
	}
	return ParseLock(name, data)
}

// ParseLock validates lock file data; name is used in messages.
func ParseLock(name string, data []byte) (*Lock, error) {
	d := newDecoder(name)
	l := &Lock{File: name, Positions: d.pos}
	if root := d.parseDocument(data, "lock file"); root != nil && !d.futureVersion(root) {
		d.lock(root, l)
		if len(d.diags) == 0 {
			d.diags = append(d.diags, l.problems()...)
		}
	}
	if len(d.diags) > 0 {
		return nil, d.diags.sorted().capped()
	}
	return l, nil
}

var (
	lockFields    = []string{"version", "manifest", "isos"}
	lockISOFields = []string{"name", "version", "url", "path", "source", "algorithm", "digest", "size"}
)

func (d *decoder) lock(root *yaml.Node, l *Lock) {
	d.fields(root, "", lockFields, func(key string, v *yaml.Node) {
		switch key {
		case "version":
			d.version(v, &l.Version)
		case "manifest":
			l.Manifest, _ = d.str(v, "manifest")
		case "isos":
			d.list(v, "isos", func(i int, item *yaml.Node, p string) {
				e := LockedISO{Pos: Pos{item.Line, item.Column}}
				d.lockedISO(item, p, &e)
				l.ISOs = append(l.ISOs, e)
			})
		}
	})
	if _, ok := d.pos["version"]; !ok {
		d.errAt(root, "missing field version")
	}
}

func (d *decoder) lockedISO(n *yaml.Node, p string, e *LockedISO) {
	d.fields(n, p, lockISOFields, func(key string, v *yaml.Node) {
		fp := p + "." + key
		if key == "size" {
			e.Size, _ = d.integer(v, fp)
			return
		}
		s, _ := d.str(v, fp)
		switch key {
		case "name":
			e.Name = s
		case "version":
			e.Version = s
		case "url":
			e.URL = s
		case "path":
			e.Path = s
		case "source":
			e.Source = s
		case "algorithm":
			e.Algorithm = s
		case "digest":
			e.Digest = s
		}
	})
}

// Validate checks a lock built in memory (by `compose lock`) by the rules
// LoadLock applies; WriteLock calls it so no invalid lock reaches the disk.
func (l *Lock) Validate() error {
	if ds := l.problems(); len(ds) > 0 {
		return ds.sorted()
	}
	return nil
}

func (l *Lock) problems() Diagnostics {
	file := l.File
	if file == "" {
		file = LockName
	}
	var ds Diagnostics
	bad := func(path, format string, args ...any) {
		ds = append(ds, diagAt(file, l.Positions, path, fmt.Sprintf(format, args...)))
	}
	if l.Version != Version {
		bad("version", "version: unsupported lock version %d (this compose reads version %d)", l.Version, Version)
	}
	seen := map[string]int{}
	for i, e := range l.ISOs {
		p := fmt.Sprintf("isos[%d]", i)
		if j, dup := seen[e.Name]; dup {
			bad(p+".name", "%s.name: %q is locked twice (also isos[%d])", p, e.Name, j)
		}
		seen[e.Name] = i
		e.check(p, bad)
	}
	return ds
}

func (e *LockedISO) check(p string, bad func(path, format string, args ...any)) {
	if !isoNameRE.MatchString(e.Name) || len(e.Name) > 63 {
		bad(p+".name", "%s.name: %q is not a valid ISO name", p, e.Name)
	}
	switch {
	case (e.URL == "") == (e.Path == ""):
		bad(p, "%s: want exactly one of url and path", p)
	case e.URL != "":
		if msg := checkURL(e.URL); msg != "" {
			bad(p+".url", "%s.url: %s", p, msg)
		}
	}
	if _, err := version.Parse(e.Version); e.Version != "" && err != nil {
		bad(p+".version", "%s.version: %v", p, err)
	}
	src, msg := parseChecksumSpec(e.Source)
	if msg != "" {
		bad(p+".source", "%s.source: %s", p, msg)
	}
	if digest.HexLen(e.Algorithm) == 0 {
		bad(p+".algorithm", "%s.algorithm: %q is not sha256 or sha512", p, e.Algorithm)
	} else if msg := checkDigest(e.Algorithm, e.Digest); msg != "" {
		bad(p+".digest", "%s.digest: %s", p, msg)
	} else if src.Digest != "" && (src.Algorithm != e.Algorithm || src.Digest != e.Digest) {
		bad(p+".digest", "%s.digest: does not match its source %s", p, e.Source)
	}
	if e.Size <= 0 {
		bad(p+".size", "%s.size: want the ISO's size in bytes, got %d", p, e.Size)
	}
}

const lockHeader = `# Generated by compose from the manifest named below; do not edit.
# It pins the digest and size every ISO resolved to. Commit it with the manifest.
`

// Marshal serialises the lock deterministically: a header comment, then the
// ISOs sorted by name, fields in a fixed order, one per line.
func (l *Lock) Marshal() []byte {
	out := struct {
		Version  int         `yaml:"version"`
		Manifest string      `yaml:"manifest,omitempty"`
		ISOs     []LockedISO `yaml:"isos"`
	}{l.Version, l.Manifest, append([]LockedISO{}, l.ISOs...)}
	sort.SliceStable(out.ISOs, func(i, j int) bool { return out.ISOs[i].Name < out.ISOs[j].Name })
	if out.ISOs == nil {
		out.ISOs = []LockedISO{}
	}
	var buf bytes.Buffer
	buf.WriteString(lockHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(out); err != nil {
		panic(fmt.Sprintf("config: encoding lock: %v", err)) // plain strings and ints cannot fail
	}
	enc.Close()
	return buf.Bytes()
}

// WriteLock validates l and writes it to path atomically
// (config/atomicfile: synced, renamed over path, the directory synced; a
// replaced lock keeps its mode, a new one is 0644). On error nothing is
// left behind and an existing lock is untouched.
func WriteLock(path string, l *Lock) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := atomicfile.Write(path, l.Marshal()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// Check reports, all at once, every way the lock no longer matches m: an
// ISO missing from the lock, a locked ISO the manifest dropped, or a url,
// path or checksum that changed since locking. It returns nil or a
// *StaleLockError (errors.Is ErrStaleLock); the fix is `compose lock`.
func (l *Lock) Check(m *Manifest) error {
	file := l.File
	if file == "" {
		file = LockName
	}
	var ds Diagnostics
	for i, iso := range m.ISOs {
		p := fmt.Sprintf("isos[%d]", i)
		e := l.ISO(iso.Name)
		switch {
		case e == nil:
			ds = append(ds, m.Diag(p, "%s: %q is not in the lock file", p, iso.Name))
		default:
			if field, why := e.Pins(&iso); why != "" {
				at := map[string]string{"url": m.firstSet(p, "url", "path"), "checksum": m.firstSet(p, "sha256", "sha512", "checksum"),
					"version": m.firstSet(p, "version", "url")}[field]
				ds = append(ds, m.Diag(at, "%s: %q %s", p, iso.Name, why))
			}
		}
	}
	for i, e := range l.ISOs {
		if m.ISO(e.Name) == nil {
			p := fmt.Sprintf("isos[%d]", i)
			ds = append(ds, diagAt(file, l.Positions, p, fmt.Sprintf("%s: %q is locked but no longer in %s", p, e.Name, m.File)))
		}
	}
	if len(ds) > 0 {
		return &StaleLockError{Problems: ds.sorted()}
	}
	return nil
}

// firstSet returns the path of the first of fields that entry p has, or p.
func (m *Manifest) firstSet(p string, fields ...string) string {
	for _, f := range fields {
		if _, ok := m.Positions[p+"."+f]; ok {
			return p + "." + f
		}
	}
	return p
}

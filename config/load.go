package config

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/usbkit/compose/config/firmware"
	"go.yaml.in/yaml/v3"
)

// StdinName is the file name used in messages for a manifest read from stdin.
const StdinName = "<stdin>"

// maxFileSize bounds what Load reads: a manifest is a few kilobytes.
const maxFileSize = 4 << 20

// Load reads and validates the manifest at path; "-" reads standard input
// (named "<stdin>" in messages, relative paths resolved against the working
// directory). An invalid manifest gives Diagnostics (errors.Is ErrInvalid);
// a file that cannot be read gives an ordinary wrapped error.
func Load(path string) (*Manifest, error) {
	data, name, dir, err := readInput(path, "manifest")
	if err != nil {
		return nil, err
	}
	return Parse(name, data, dir)
}

func readInput(path, what string) (data []byte, name, dir string, err error) {
	if path == "-" {
		data, err = readLimited(os.Stdin)
		if err != nil {
			return nil, "", "", fmt.Errorf("reading standard input: %w", err)
		}
		dir, err = os.Getwd()
		return data, StdinName, dir, err
	}
	f, _, err := OpenRegular(path)
	if err != nil {
		return nil, "", "", fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	if data, err = readLimited(f); err != nil {
		return nil, "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, "", "", fmt.Errorf("reading %s: %w", path, err)
	}
	return data, path, filepath.Dir(abs), nil
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("larger than %d MiB, too large to be a manifest or lock", maxFileSize>>20)
	}
	return data, nil
}

// Parse validates manifest data. name is used in messages; dir is the
// directory that relative `path:` and `key.file:` values are resolved
// against ("" leaves them relative). It returns Diagnostics listing every
// problem when data is invalid.
func Parse(name string, data []byte, dir string) (*Manifest, error) {
	d := newDecoder(name)
	m := &Manifest{File: name, Dir: dir, Positions: d.pos}
	if root := d.parseDocument(data, "manifest"); root != nil {
		d.manifest(root, m)
	}
	if len(d.diags) > 0 {
		return nil, d.diags.sorted().capped()
	}
	return m, nil
}

var topFields = []string{"version", "label", "size", "firmware", "secure_boot", "storage", "strict", "menu", "isos"}

func (d *decoder) manifest(root *yaml.Node, m *Manifest) {
	if d.futureVersion(root) {
		return
	}
	m.Label, m.Size = DefaultLabel, Size{Auto: true}
	m.Firmware = []firmware.Firmware{firmware.BIOS, firmware.UEFIX64}
	m.Storage = StorageAuto
	m.Menu = Menu{Title: DefaultTitle, Timeout: DefaultTimeout, Console: ConsoleVGA}
	var haveISOs bool
	d.fields(root, "", topFields, func(key string, v *yaml.Node) {
		switch key {
		case "version":
			d.version(v, &m.Version)
		case "label":
			d.label(v, &m.Label)
		case "size":
			d.size(v, &m.Size)
		case "firmware":
			d.firmware(v, &m.Firmware)
		case "secure_boot":
			d.secureBootValue(v, m)
		case "strict":
			m.Strict, _ = d.boolean(v, "strict")
		case "storage":
			if s, ok := d.enum(v, "storage", []string{"auto", "esp", "data"}); ok {
				m.Storage = Storage(s)
			}
		case "menu":
			d.menu(v, &m.Menu)
		case "isos":
			haveISOs = true
			d.isos(v, m)
		}
	})
	if d.flooded {
		return
	}
	if _, ok := d.pos["version"]; !ok {
		d.errAt(root, "missing field version (write `version: 1` first)")
	}
	if !haveISOs {
		d.errAt(root, "missing field isos: list at least one ISO")
	}
	d.crossChecks(m)
}

// futureVersion reports a version this compose cannot read, alone: the rest
// of a newer manifest would only produce noise about fields it does not know.
func (d *decoder) futureVersion(root *yaml.Node) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], resolve(root.Content[i+1])
		if k.Value != "version" || v.Kind != yaml.ScalarNode || v.Tag != "!!int" {
			continue
		}
		if n, err := strconv.ParseInt(v.Value, 0, 64); err == nil && n > Version {
			d.errAt(v, "version: unsupported version %d (this compose reads version %d); upgrade compose", n, Version)
			return true
		}
	}
	return false
}

func (d *decoder) version(v *yaml.Node, out *int) {
	n, ok := d.integer(v, "version")
	if !ok {
		return
	}
	if n != Version {
		d.errAt(v, "version: unsupported version %d (this compose reads version %d)", n, Version)
		return
	}
	*out = int(n)
}

func (d *decoder) enum(v *yaml.Node, path string, allowed []string) (string, bool) {
	s, ok := d.str(v, path)
	if !ok {
		return "", false
	}
	if !contains(allowed, s) {
		d.errAt(v, "%s: %q is not one of %s", path, s, quoteList(allowed))
		return "", false
	}
	return s, true
}

func (d *decoder) firmware(v *yaml.Node, out *[]firmware.Firmware) {
	names := make([]string, len(firmware.All))
	for i, f := range firmware.All {
		names[i] = string(f)
	}
	var got []firmware.Firmware
	ok := d.list(v, "firmware", func(i int, item *yaml.Node, p string) {
		s, ok := d.enum(item, p, names)
		if !ok {
			return
		}
		if contains(got, firmware.Firmware(s)) {
			d.errAt(item, "%s: %q is listed twice", p, s)
			return
		}
		got = append(got, firmware.Firmware(s))
	})
	if ok && len(v.Content) == 0 {
		d.errAt(v, "firmware: list at least one target (%s)", quoteList(names))
	}
	if ok && len(got) > 0 {
		*out = got
	}
}

var menuFields = []string{"title", "timeout", "default", "console"}

func (d *decoder) menu(v *yaml.Node, out *Menu) {
	d.fields(v, "menu", menuFields, func(key string, v *yaml.Node) {
		switch key {
		case "title":
			if s, ok := d.str(v, "menu.title"); ok && d.within(v, "menu.title", s, MaxTitle) && d.text(v, "menu.title", s) {
				out.Title = s
			}
		case "timeout":
			d.timeout(v, &out.Timeout)
		case "default":
			if s, ok := d.str(v, "menu.default"); ok && s == "" {
				d.errAt(v, "menu.default: empty; name an ISO or leave the field out")
			} else if ok {
				out.Default = s
			}
		case "console":
			if s, ok := d.enum(v, "menu.console", []string{"vga", "serial", "both"}); ok {
				out.Console = Console(s)
			}
		}
	})
}

// maxTimeout keeps the menu from waiting for hours on an unattended machine.
const maxTimeout = time.Hour

func (d *decoder) timeout(v *yaml.Node, out *time.Duration) {
	var t time.Duration
	switch {
	case v.Kind == yaml.ScalarNode && v.Tag == "!!int":
		n, ok := d.integer(v, "menu.timeout")
		if !ok {
			return
		}
		if n < 0 || n > int64(maxTimeout/time.Second) {
			d.errAt(v, "menu.timeout: %d seconds is out of range (0 to %d)", n, int64(maxTimeout/time.Second))
			return
		}
		t = time.Duration(n) * time.Second
	case v.Kind == yaml.ScalarNode && v.Tag == "!!str":
		var err error
		if t, err = time.ParseDuration(v.Value); err != nil {
			d.errAt(v, "menu.timeout: %q is not a duration (write 10s, 1m30s or a number of seconds)", v.Value)
			return
		}
	default:
		d.errAt(v, "menu.timeout: want a duration such as 10s or a number of seconds, got %s", kindName(v))
		return
	}
	switch {
	case t < 0 || t > maxTimeout:
		d.errAt(v, "menu.timeout: %s is out of range (0s to %s)", t, maxTimeout)
	case t%time.Second != 0:
		d.errAt(v, "menu.timeout: %s is not a whole number of seconds (GRUB counts seconds)", t)
	default:
		*out = t
	}
}

func (d *decoder) isos(v *yaml.Node, m *Manifest) {
	if v.Kind == yaml.SequenceNode && len(v.Content) > MaxISOs {
		d.errAt(v, "isos: %d entries, more than the limit of %d", len(v.Content), MaxISOs)
		return
	}
	ok := d.list(v, "isos", func(i int, item *yaml.Node, p string) {
		iso := ISO{Pos: Pos{item.Line, item.Column}}
		d.iso(item, p, &iso, m.Dir)
		m.ISOs = append(m.ISOs, iso)
	})
	if ok && len(v.Content) == 0 {
		d.errAt(v, "isos: list at least one ISO")
	}
}

func quoteList(items []string) string {
	s := ""
	for i, it := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			s += " or "
		default:
			s += ", "
		}
		s += it
	}
	return s
}

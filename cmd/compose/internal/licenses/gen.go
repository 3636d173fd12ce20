//go:build ignore

// gen writes the repository's NOTICE and the licence texts embedded in
// compose from bootloader/assets/PROVENANCE, go.mod, the module cache (go
// mod download fills it), Go's LICENSE and Debian's
// /usr/share/common-licenses/GPL-3:
//
//	cd cmd/compose/internal/licenses && go run gen.go
//
// Run it after changing go.mod or the boot binaries; licenses_test.go fails
// while NOTICE misses a module of go.mod, a package or file of PROVENANCE,
// or a module linked on a release platform has no text here.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// platforms are the release platforms (.ci/release); a module linked on any
// of them is in a shipped binary.
var platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

const root = "../../../.."

type module struct {
	Path, Version, Dir string
	Linked             bool
	Licence            string
	Files              []string // licence files in Dir
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	mods, err := modules()
	if err != nil {
		return err
	}
	if err := os.RemoveAll("texts"); err != nil {
		return err
	}
	if err := os.MkdirAll("texts", 0o755); err != nil {
		return err
	}
	for _, m := range mods {
		if !m.Linked {
			continue
		}
		var text bytes.Buffer
		for _, f := range m.Files {
			b, err := os.ReadFile(filepath.Join(m.Dir, f))
			if err != nil {
				return err
			}
			fmt.Fprintf(&text, "==> %s@%s/%s\n\n%s\n", m.Path, m.Version, f, bytes.TrimRight(b, "\n"))
		}
		if err := os.WriteFile(filepath.Join("texts", textName(m.Path)), text.Bytes(), 0o644); err != nil {
			return err
		}
	}
	golic, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(strings.TrimSpace(string(golic)), "LICENSE"), "texts/go.txt"); err != nil {
		return err
	}
	if err := copyFile("/usr/share/common-licenses/GPL-3", "texts/grub-GPL-3.0.txt"); err != nil {
		return err
	}
	if err := copyFile(filepath.Join(root, "LICENSE"), "LICENSE"); err != nil {
		return err
	}
	notice, err := renderNotice(mods)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "NOTICE"), notice, 0o644); err != nil {
		return err
	}
	return os.WriteFile("NOTICE", notice, 0o644)
}

func textName(path string) string {
	return strings.NewReplacer("/", "_", ".", "_").Replace(path) + ".txt"
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// modules lists every module go.mod requires, and marks those linked into
// cmd/compose on a release platform (the man-page build tag left out, as
// the shipped binaries leave it out).
func modules() ([]*module, error) {
	out, err := exec.Command("go", "list", "-m", "-json", "all").Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w", err)
	}
	byPath := map[string]*module{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m struct {
			Path, Version, Dir string
			Main               bool
		}
		if err := dec.Decode(&m); err != nil {
			return nil, err
		}
		if !m.Main {
			byPath[m.Path] = &module{Path: m.Path, Version: m.Version, Dir: m.Dir}
		}
	}
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", "github.com/usbkit/compose/cmd/compose")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go list -deps (%s): %w", p, err)
		}
		for _, path := range strings.Fields(string(out)) {
			if m := byPath[path]; m != nil {
				m.Linked = true
			}
		}
	}
	required, err := goModRequires()
	if err != nil {
		return nil, err
	}
	var mods []*module
	for path, m := range byPath {
		if !m.Linked && !required[path] {
			continue
		}
		if m.Dir == "" {
			return nil, fmt.Errorf("%s@%s is not in the module cache (go mod download %s)", m.Path, m.Version, m.Path)
		}
		if err := classify(m); err != nil {
			return nil, err
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

func goModRequires() (map[string]bool, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	req := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "require (":
			in = true
		case line == ")":
			in = false
		case in && line != "":
			req[strings.Fields(line)[0]] = true
		case strings.HasPrefix(line, "require "):
			req[strings.Fields(line)[1]] = true
		}
	}
	return req, sc.Err()
}

var licenceFile = regexp.MustCompile(`(?i)^(licen[cs]e|copying|notice|patents|unlicense)(\.(md|txt))?$|^licen[cs]e[-_.]`)

// classify finds a module's licence files and names the licence by its
// text; an unknown text stops the generator, so that no module is shipped
// under a guessed licence.
func classify(m *module) error {
	ents, err := os.ReadDir(m.Dir)
	if err != nil {
		return err
	}
	var main string
	for _, e := range ents {
		if e.Type().IsRegular() && licenceFile.MatchString(e.Name()) {
			m.Files = append(m.Files, e.Name())
			if main == "" && regexp.MustCompile(`(?i)^(licen[cs]e|copying|unlicense)`).MatchString(e.Name()) {
				main = e.Name()
			}
		}
	}
	if main == "" {
		return fmt.Errorf("%s@%s: no licence file in %s", m.Path, m.Version, m.Dir)
	}
	b, err := os.ReadFile(filepath.Join(m.Dir, main))
	if err != nil {
		return err
	}
	t := strings.Join(strings.Fields(string(b)), " ")
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(t, x) {
				return true
			}
		}
		return false
	}
	// A file may hold several licences (go-yaml: MIT for the libyaml port,
	// Apache-2.0 for the rest); every one found is named.
	var found []string
	add := func(ok bool, id string) {
		if ok {
			found = append(found, id)
		}
	}
	add(has("This is free and unencumbered software released into the public domain"), "Unlicense")
	add(has("Apache License") && has("Version 2.0"), "Apache-2.0")
	add(has("Mozilla Public License Version 2.0", "Mozilla Public License, version 2.0"), "MPL-2.0")
	add(has("Permission is hereby granted, free of charge"), "MIT")
	add(has("Permission to use, copy, modify, and/or distribute", "Permission to use, copy, modify, and distribute"), "ISC")
	bsd := has("Redistribution and use in source and binary forms")
	bsd3 := has("Neither the name", "names of its contributors", "may not be used to endorse")
	add(bsd && bsd3, "BSD-3-Clause")
	add(bsd && !bsd3, "BSD-2-Clause")
	if len(found) == 0 {
		return fmt.Errorf("%s@%s: licence in %s not recognised", m.Path, m.Version, main)
	}
	m.Licence = strings.Join(found, " AND ")
	return nil
}

type provenance struct {
	packages []string // "name:arch version source sourceVersion"
	grub     []string // embedded files from GRUB
	shim     []string // embedded files from shim
	inputs   []string // compose's own build inputs for the GRUB images
	sources  map[string]string
}

func readProvenance() (*provenance, error) {
	b, err := os.ReadFile(filepath.Join(root, "bootloader/assets/PROVENANCE"))
	if err != nil {
		return nil, err
	}
	p := &provenance{sources: map[string]string{}}
	tools := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "# Packages that only run") {
			tools = true
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 6 && f[0] == "package" && !tools:
			p.packages = append(p.packages, fmt.Sprintf("%s %s (source package %s %s)", f[1], f[2], f[4], f[5]))
			p.sources[f[4]] = f[5]
		case len(f) >= 4 && f[0] == "file":
			origin := strings.Join(f[3:], " ")
			switch {
			case strings.Contains(origin, "shim"):
				p.shim = append(p.shim, f[1])
			case strings.HasSuffix(f[1], ".cfg") || strings.HasSuffix(f[1], ".modules"):
				p.inputs = append(p.inputs, f[1])
			default:
				p.grub = append(p.grub, f[1])
			}
		}
	}
	if len(p.grub) == 0 || len(p.shim) == 0 || p.sources["grub2"] == "" {
		return nil, fmt.Errorf("PROVENANCE: no GRUB or shim files, or no grub2 source package")
	}
	return p, nil
}

func renderNotice(mods []*module) ([]byte, error) {
	p, err := readProvenance()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w(`compose: licence and third-party notices
(generated by cmd/compose/internal/licenses/gen.go; do not edit)

compose's own code is licensed under the Apache License, Version 2.0 (the
file LICENSE). A compose binary also holds the third-party works below,
each under its own licence. "compose version --licenses" prints this
notice followed by every licence text it names; release archives carry
the same texts under share/doc/compose/.

1. Boot binaries written onto every stick
=========================================

compose carries these files as data (go:embed, bootloader/assets): it
does not link to them or call them, it writes them onto the sticks and
images it makes (boot.img and core.img with a few bytes patched at
documented offsets, as grub-bios-setup patches them: bootloader/bios.go),
where firmware runs them ("compose test" boots such a stick in QEMU).
They are separate programs aggregated with compose, not part of compose's
code, and stay under their own licences.
All come from these Debian 13 ("trixie") binary packages
(bootloader/assets/PROVENANCE records the sha256 of each package and file):

`)
	for _, pkg := range p.packages {
		w("  %s\n", pkg)
	}
	w(`
GRUB 2.12: GNU General Public License, version 3 or later
(GPL-3.0-or-later; full text: grub-GPL-3.0.txt)
  embedded files: %s
  embedded build inputs (compose's own, Apache-2.0): %s
  corresponding source: Debian source package grub2 %s
    (apt-get source grub2=%s); the signed images are wrapped by
    the source packages grub-efi-amd64-signed %s
    and grub-efi-arm64-signed %s.
    BOOTIA32.EFI and core.img are built from that GRUB's modules by
    grub-mkimage with the build inputs above; the script
    bootloader/assets/update.sh rebuilds every file byte for byte.
    Debian's archive keeps every published source version; whoever
    distributes compose binaries must keep this source available to
    their recipients as GPLv3 section 6 requires.

shim 16.1 and MokManager: BSD-2-Clause (shim's COPYRIGHT file, in the
notice below; shim includes code derived from Tianocore and OpenSSL under
their own permissive licences, listed in the source package's
debian/copyright)
  embedded files: %s
  corresponding source: Debian source package shim %s
    (apt-get source shim=%s), signed through the source
    packages shim-signed %s and shim-helpers-amd64-signed /
    shim-helpers-arm64-signed %s.

shim's COPYRIGHT file:

  Copyright 2012 Red Hat, Inc <mjg@redhat.com>
  Copyright 2018 Ruslan Nikolaev <nruslandev@gmail.com>

  Redistribution and use in source and binary forms, with or without
  modification, are permitted provided that the following conditions
  are met:

  Redistributions of source code must retain the above copyright
  notice, this list of conditions and the following disclaimer.

  Redistributions in binary form must reproduce the above copyright
  notice, this list of conditions and the following disclaimer in the
  documentation and/or other materials provided with the
  distribution.

  THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
  "AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT
  LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS
  FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE
  COPYRIGHT HOLDER OR CONTRIBUTORS BE LIABLE FOR ANY DIRECT,
  INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES
  (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
  SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION)
  HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT,
  STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
  ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED
  OF THE POSSIBILITY OF SUCH DAMAGE.

  Significant portions of this code are derived from Tianocore
  (http://tianocore.sf.net) and are Copyright 2009-2012 Intel
  Corporation.

`, strings.Join(p.grub, ", "), strings.Join(p.inputs, ", "), p.sources["grub2"], p.sources["grub2"],
		p.sources["grub-efi-amd64-signed"], p.sources["grub-efi-arm64-signed"],
		strings.Join(p.shim, ", "),
		shimVersion(p), shimVersion(p), p.sources["shim-signed"], p.sources["shim-helpers-amd64-signed"])
	w(`2. Go code compiled into compose
================================

The Go standard library and runtime: BSD-3-Clause (go.txt).

Modules linked into compose on a release platform (linux, darwin and
windows; each licence's full text, with any NOTICE or PATENTS file, is in
the text named after the module). Their source is the module at that
version ("go mod download -json MODULE@VERSION"); MPL-2.0 code is used
unmodified.

`)
	for _, m := range mods {
		if m.Linked {
			w("  %-50s %-36s %s\n", m.Path, m.Version, m.Licence)
		}
	}
	w(`
Modules go.mod requires that are not linked into compose (tests, the
man-page build, platforms compose does not ship):

`)
	for _, m := range mods {
		if !m.Linked {
			w("  %-50s %-36s %s\n", m.Path, m.Version, m.Licence)
		}
	}
	return b.Bytes(), nil
}

// shimVersion is the upstream shim source version that Debian's
// shim-signed binary version ends with (1.51~1+deb13u1+16.1-2~deb13u1).
func shimVersion(p *provenance) string {
	for _, pkg := range p.packages {
		if strings.HasPrefix(pkg, "shim-signed:") {
			v := strings.Fields(pkg)[1]
			if i := strings.LastIndex(v, "+"); i >= 0 && strings.Contains(v[i:], ".") {
				return v[i+1:]
			}
		}
	}
	return "(unknown)"
}

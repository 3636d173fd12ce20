// Package licenses holds what a compose binary must carry about licences:
// compose's own licence (LICENSE, Apache-2.0), the third-party notice
// (NOTICE: the boot binaries written onto sticks, with their licences and
// where their corresponding source is, and every Go module linked in), and
// the full text of every licence the notice names.
//
// LICENSE and NOTICE are copies of the repository's top-level files; both
// they and texts/ are written by gen.go (go run gen.go) from go.mod, the
// module cache and bootloader/assets/PROVENANCE, and the package's tests
// fail when they fall out of step.
package licenses

import (
	"embed"
	"io/fs"
	"sort"
)

//go:embed LICENSE NOTICE texts
var files embed.FS

// File is one licence document.
type File struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// All returns NOTICE, then LICENSE, then every licence text by name.
func All() []File {
	out := []File{read("NOTICE"), read("LICENSE")}
	names, err := fs.Glob(files, "texts/*.txt")
	if err != nil {
		panic(err) // the pattern is constant
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, read(n))
	}
	return out
}

func read(name string) File {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: always there
	}
	return File{Name: name, Text: string(b)}
}

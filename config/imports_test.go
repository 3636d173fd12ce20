package config

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImports keeps config at the bottom of the dependency graph: the
// standard library and the YAML parser only, never fetch, bootloader or
// compose (the JSON Schema validator is for tests).
func TestImports(t *testing.T) {
	allowed := map[string]bool{"go.yaml.in/yaml/v3": true,
		"github.com/usbkit/compose/config/firmware": true, "github.com/usbkit/compose/config/digest": true,
		"github.com/usbkit/compose/config/filekind": true, "github.com/usbkit/compose/config/atomicfile": true,
		"github.com/usbkit/compose/config/plural": true, "github.com/usbkit/compose/config/version": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(p, "/")
			// config/firmware, config/digest, config/filekind,
			// config/atomicfile and config/plural import nothing: the
			// module's firmware names, digest algorithms, names of file
			// kinds, its one way to replace a file and to count in words.
			if !allowed[p] && strings.Contains(first, ".") {
				t.Errorf("%s imports %s; config may use only the standard library, go.yaml.in/yaml/v3 and the leaf packages config/firmware, digest, filekind, atomicfile and plural", f, p)
			}
		}
	}
}

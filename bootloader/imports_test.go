package bootloader

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// bootloader sits below compose: it must not import the manifest, the fetcher, the glue or
// the CLI (compose translates into this package's own small input types). config/firmware is
// the module's dependency-free firmware vocabulary, meant for every package.
func TestImportsStayBelowCompose(t *testing.T) {
	forbidden := []string{"config", "fetch", "compose", "cmd"}
	allowed := map[string]bool{"github.com/usbkit/compose/config/firmware": true}
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path := strings.Trim(imp.Path.Value, `"`)
			if allowed[path] {
				continue
			}
			for _, bad := range forbidden {
				prefix := "github.com/usbkit/compose/" + bad
				if path == prefix || strings.HasPrefix(path, prefix+"/") {
					t.Errorf("%s imports %s", p, path)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package config

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	const url = "https://github.com/usbkit/compose/raw/main/config/schema.json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

// yamlToJSON converts a YAML manifest to the value a JSON Schema validator
// expects, the way a YAML language server does.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json: %v", err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSchemaAcceptsExamplesAndStarter(t *testing.T) {
	s := compileSchema(t)
	docs := map[string][]byte{"starter": Starter()}
	for _, f := range exampleFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs[f] = data
	}
	for name, data := range docs {
		if err := s.Validate(yamlToJSON(t, data)); err != nil {
			t.Errorf("%s fails the schema: %v", name, err)
		}
	}
}

func TestSchemaRejects(t *testing.T) {
	s := compileSchema(t)
	iso := "  - name: a\n    url: https://h/a.iso\n    checksum: file:https://h/SUMS\n"
	for name, src := range map[string]string{
		"unknown top-level field": "version: 1\nlabl: X\nisos:\n" + iso,
		"unknown iso field":       "version: 1\nisos:\n" + iso + "    colour: red\n",
		"unknown menu field":      "version: 1\nmenu: {titel: x}\nisos:\n" + iso,
		"unknown key field":       "version: 1\nisos:\n" + iso + "    signature: {key: {fingerprint: " + strings.Repeat("A", 40) + ", url: 'https://h/k', id: 1}}\n",
		"missing checksum":        "version: 1\nisos:\n  - {name: a, url: 'https://h/a.iso'}\n",
		"two checksums":           "version: 1\nisos:\n" + iso + "    sha256: " + strings.Repeat("0", 64) + "\n",
		"url and path":            "version: 1\nisos:\n" + iso + "    path: a.iso\n",
		"bad digest":              "version: 1\nisos:\n  - {name: a, url: 'https://h/a', sha256: abc}\n",
		"ftp url":                 "version: 1\nisos:\n  - {name: a, url: 'ftp://h/a', sha256: " + strings.Repeat("0", 64) + "}\n",
		"bad name":                "version: 1\nisos:\n  - {name: A, url: 'https://h/a', sha256: " + strings.Repeat("0", 64) + "}\n",
		"long label":              "version: 1\nlabel: ABCDEFGHIJKL\nisos:\n" + iso,
		"bad size":                "version: 1\nsize: 16G\nisos:\n" + iso,
		"version 2":               "version: 2\nisos:\n" + iso,
		"linux without kernel":    "version: 1\nisos:\n" + iso + "    boot: linux\n",
		"efi with args":           "version: 1\nisos:\n" + iso + "    boot: efi\n    args: quiet\n",
		"kernel without initrd":   "version: 1\nisos:\n" + iso + "    boot: linux\n    kernel: /k\n",
		"signature inline digest": "version: 1\nisos:\n  - {name: a, url: 'https://h/a', checksum: 'sha256:" + strings.Repeat("0", 64) + "', signature: {key: {fingerprint: " + strings.Repeat("A", 40) + ", url: 'https://h/k'}}}\n",
		"{version} inline digest": "version: 1\nisos:\n  - {name: a, url: 'https://h/a-{version}.iso', sha256: " + strings.Repeat("0", 64) + "}\n",
		"version: on a path":      "version: 1\nisos:\n  - {name: a, path: a.iso, version: '12.*', sha256: " + strings.Repeat("0", 64) + "}\n",
	} {
		if err := s.Validate(yamlToJSON(t, []byte(src))); err == nil {
			t.Errorf("%s: schema accepted\n%s", name, src)
		}
		if _, err := Parse("m.yaml", []byte(src), ""); err == nil {
			t.Errorf("%s: loader accepted\n%s", name, src)
		}
	}
}

// yamlKeys derives the YAML field names of struct type t from its tags:
// `yaml:"name"`, plus `keys:"a,b"` for a Go field written as several keys.
func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if k := f.Tag.Get("keys"); k != "" {
			out = append(out, strings.Split(k, ",")...)
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func schemaKeys(t *testing.T, path ...string) []string {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(Schema(), &doc); err != nil {
		t.Fatal(err)
	}
	var node any = doc
	for _, p := range path {
		m, ok := node.(map[string]any)
		if !ok {
			t.Fatalf("schema: %v is not an object", path)
		}
		node = m[p]
	}
	props, ok := node.(map[string]any)
	if !ok {
		t.Fatalf("schema has no properties at %v", path)
	}
	var out []string
	for k := range props {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	sort.Strings(c)
	return c
}

// TestFieldsInSync keeps the Go types, the loader's field tables and the
// schema in step: adding a field to one without the others fails here.
func TestFieldsInSync(t *testing.T) {
	for _, tc := range []struct {
		name   string
		typ    reflect.Type
		loader []string
		schema []string
	}{
		{"manifest", reflect.TypeFor[Manifest](), topFields, []string{"properties"}},
		{"menu", reflect.TypeFor[Menu](), menuFields, []string{"$defs", "menu", "properties"}},
		{"iso", reflect.TypeFor[ISO](), isoFields, []string{"$defs", "iso", "properties"}},
		{"signature", reflect.TypeFor[Signature](), signatureFields, []string{"$defs", "signature", "properties"}},
		{"key", reflect.TypeFor[Key](), keyFields, []string{"$defs", "signature", "properties", "key", "properties"}},
		{"secure_boot", reflect.TypeFor[SecureBootOptions](), secureBootFields, []string{"$defs", "secure_boot", "properties"}},
		{"sign_with", reflect.TypeFor[SignWith](), signWithFields, []string{"$defs", "secure_boot", "properties", "sign_with", "properties"}},
		{"lock", reflect.TypeFor[Lock](), lockFields, nil},
		{"locked iso", reflect.TypeFor[LockedISO](), lockISOFields, nil},
	} {
		fromTypes := yamlKeys(tc.typ)
		if !slices.Equal(fromTypes, sorted(tc.loader)) {
			t.Errorf("%s: Go type has fields %v, loader reads %v", tc.name, fromTypes, sorted(tc.loader))
		}
		if tc.schema == nil {
			continue
		}
		if got := schemaKeys(t, tc.schema...); !slices.Equal(fromTypes, got) {
			t.Errorf("%s: Go type has fields %v, schema has %v", tc.name, fromTypes, got)
		}
	}
}

package main

import (
	"bytes"
	"encoding"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/usbkit/compose/compose"
	"github.com/usbkit/compose/compose/boottest"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/device"
	"github.com/usbkit/compose/compose/isoimage"
)

var update = flag.Bool("update", false, "rewrite output.schema.json from the result types")

// jsonShapes are the values each verb prints under --json, by the name
// output.schema.json gives them in $defs.
var jsonShapes = map[string]any{
	"validate":       validateResult{},
	"lock":           compose.LockResult{},
	"update":         compose.UpdateResult{},
	"fetch":          []compose.Fetched{},
	"plan":           planView{},
	"apply":          resultView{},
	"apply_devices":  []deviceView{},
	"verify":         converge.Verification{},
	"verify_devices": []*converge.Verification{},
	"inspect":        isoimage.Inspection{},
	"devices":        []device.Device{},
	"test":           []boottest.Result{},
	"version":        versionInfo{},
	"init":           initResult{},
	"cache":          cacheView{},
	"cache_prune":    pruneView{},
	"error":          jsonError{},
}

const schemaFile = "output.schema.json"

// TestJSONSchemaFile keeps output.schema.json, the one place that
// documents every --json shape, equal to the types the verbs print. Its
// generator refuses a field without a json name (a Go name would leak)
// and a name that is not snake_case.
func TestJSONSchemaFile(t *testing.T) {
	got, err := genOutputSchema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is not what the result types give: run go test ./cmd/compose -run TestJSONSchemaFile -update and review the diff", schemaFile)
	}
}

// The generator catches what issue 24 found: Go field names, positions
// that are not data, camelCase.
func TestJSONSchemaRefuses(t *testing.T) {
	type goNames struct{ Name string }
	type camel struct {
		BytesWritten int64 `json:"bytesWritten"`
	}
	for _, v := range []any{goNames{}, camel{}} {
		if _, err := (&shaper{}).of(reflect.TypeOf(v)); err == nil {
			t.Errorf("%T: no error", v)
		}
	}
}

func genOutputSchema() ([]byte, error) {
	defs := map[string]any{}
	for name, v := range jsonShapes {
		s, err := (&shaper{}).of(reflect.TypeOf(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defs[name] = s
	}
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         "https://github.com/usbkit/compose/cmd/compose/output.schema.json",
		"title":       "compose --json output",
		"description": "What each verb prints on stdout with --json, by verb in $defs (apply_devices and verify_devices: with --device; cache_prune: compose cache prune; error: any verb that fails). Generated from the result types by TestJSONSchemaFile; testscripts check real output against it. Names are snake_case; a list with nothing in it is [], never null; optional members are left out.",
		"$defs":       defs,
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n'), err
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

type shaper struct{ depth int }

var (
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
)

func (s *shaper) of(t reflect.Type) (map[string]any, error) {
	if s.depth++; s.depth > 20 {
		return nil, fmt.Errorf("%s: nested too deep", t)
	}
	defer func() { s.depth-- }()
	switch {
	case t == reflect.TypeFor[time.Time]():
		return map[string]any{"type": "string", "format": "date-time"}, nil
	case t.Implements(jsonMarshaler):
		return map[string]any{}, nil
	case t.Implements(textMarshaler):
		return map[string]any{"type": "string"}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return s.of(t.Elem())
	case reflect.Bool:
		return map[string]any{"type": "boolean"}, nil
	case reflect.String:
		return map[string]any{"type": "string"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}, nil
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}, nil
	case reflect.Interface:
		return map[string]any{}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string"}, nil
		}
		items, err := s.of(t.Elem())
		return map[string]any{"type": "array", "items": items}, err
	case reflect.Map:
		vals, err := s.of(t.Elem())
		return map[string]any{"type": "object", "additionalProperties": vals}, err
	case reflect.Struct:
		return s.object(t)
	}
	return nil, fmt.Errorf("%s: no JSON shape for kind %s", t, t.Kind())
}

// object shapes a struct as encoding/json prints it: embedded structs'
// fields inline unless the outer struct has one of that name.
func (s *shaper) object(t reflect.Type) (map[string]any, error) {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type) error
	walk = func(t reflect.Type) error {
		var embedded []reflect.Type
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, hasTag := f.Tag.Lookup("json")
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				et := f.Type
				if et.Kind() == reflect.Pointer {
					et = et.Elem()
				}
				if et.Kind() == reflect.Struct {
					embedded = append(embedded, et)
					continue
				}
			}
			if !f.IsExported() || name == "-" {
				continue
			}
			if !hasTag || name == "" {
				return fmt.Errorf("%s.%s has no json name: the Go name would be printed", t, f.Name)
			}
			if !snakeCase.MatchString(name) {
				return fmt.Errorf("%s.%s: json name %q is not snake_case", t, f.Name, name)
			}
			if _, ok := props[name]; ok {
				continue // shadowed by an outer field
			}
			p, err := s.of(f.Type)
			if err != nil {
				return err
			}
			props[name] = p
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
		for _, et := range embedded {
			if err := walk(et); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(t); err != nil {
		return nil, err
	}
	sort.Strings(required)
	out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		out["required"] = required
	}
	return out, nil
}

// cmdJSONSchema is the testscript command "jsonschema DEF": stdout of
// the last command is one JSON value of output.schema.json's $defs/DEF.
func cmdJSONSchema(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jsonschema DEF")
	}
	err := validateJSON(ts.ReadFile("stdout"), args[0])
	switch {
	case err != nil && !neg:
		ts.Fatalf("stdout is not a %s result: %v", args[0], err)
	case err == nil && neg:
		ts.Fatalf("stdout is a %s result", args[0])
	}
}

func validateJSON(out, def string) error {
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(wd + "/" + schemaFile + "#/$defs/" + def)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		return err
	}
	return sch.Validate(v)
}

package config

import _ "embed"

//go:embed schema.json
var schema []byte

//go:embed starter.yaml
var starter []byte

// Schema returns the JSON Schema (draft 2020-12) of the manifest, for
// `compose schema` and editors' YAML language servers. The loader is the
// authority: the schema cannot express every cross-field rule.
func Schema() []byte { return append([]byte(nil), schema...) }

// Starter returns a commented multiboot.yaml for `compose init`. It is a
// valid manifest of real, pinned releases.
func Starter() []byte { return append([]byte(nil), starter...) }

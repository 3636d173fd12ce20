package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree by hand so that every problem, structural or
// semantic, is collected with its position instead of stopping at the first.
type decoder struct {
	file    string
	diags   Diagnostics
	pos     map[string]Pos
	aliases int  // alias expansions so far (limits.go)
	flooded bool // past MaxAliases: walking has stopped
}

func newDecoder(file string) *decoder {
	return &decoder{file: file, pos: map[string]Pos{}}
}

func (d *decoder) errAt(n *yaml.Node, format string, args ...any) {
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: n.Line, Col: n.Column, Msg: fmt.Sprintf(format, args...)})
}

// errPath reports against a field path recorded in d.pos.
func (d *decoder) errPath(path, format string, args ...any) {
	d.diags = append(d.diags, diagAt(d.file, d.pos, path, fmt.Sprintf(format, args...)))
}

// parseDocument reads exactly one YAML document whose root is a mapping.
func (d *decoder) parseDocument(data []byte, what string) *yaml.Node {
	if d.tooManyAliases(data) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.diags = append(d.diags, Diagnostic{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("empty %s", what)})
		} else {
			d.syntax(data, err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.errAt(&next, "a second YAML document is not allowed: a %s is one document", what)
		return nil
	case !errors.Is(err, io.EOF):
		d.syntax(data, err)
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		d.diags = append(d.diags, Diagnostic{File: d.file, Line: 1, Col: 1, Msg: fmt.Sprintf("empty %s", what)})
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errAt(root, "a %s must be a mapping of fields, got %s", what, kindName(root))
		return nil
	}
	return root
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax turns a yaml error into a diagnostic. yaml.v3 reports only a line,
// so the column points at the line's first non-blank character.
func (d *decoder) syntax(data []byte, err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		d.diags = append(d.diags, Diagnostic{File: d.file, Msg: "YAML syntax error: " + msg})
		return
	}
	line, _ := strconv.Atoi(m[1])
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: line, Col: firstCol(data, line), Msg: "YAML syntax error: " + m[2]})
}

func firstCol(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return 1
	}
	l := lines[line-1]
	return len(l) - len(bytes.TrimLeft(l, " \t")) + 1
}

// resolve follows aliases (anchors are allowed; they expand to their value).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	switch n.Tag {
	case "!!str":
		return "a string"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "nothing (null)"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a value tagged " + n.Tag
}

// fields walks mapping n at path, calls fn for each known key in file order,
// and reports unknown, duplicate and non-string keys. It returns false when n
// is not a mapping.
func (d *decoder) fields(n *yaml.Node, path string, known []string, fn func(key string, v *yaml.Node)) bool {
	n = d.resolve(n)
	if d.flooded {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.errAt(n, "%s: want a mapping, got %s", path, kindName(n))
		return false
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content) && !d.flooded; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errAt(k, "%s: keys must be plain strings, got %s", orTop(path), kindName(k))
			continue
		}
		if k.Tag == "!!merge" {
			d.errAt(k, "%s: merge keys (<<) are not supported", orTop(path))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.errAt(k, "%s: duplicate field %q (first at line %d)", join(path, k.Value), k.Value, first.Line)
			continue
		}
		seen[k.Value] = k
		if !contains(known, k.Value) {
			d.errAt(k, "%s", unknownField(path, k.Value, known))
			continue
		}
		d.pos[join(path, k.Value)] = Pos{v.Line, v.Column}
		if v = d.resolve(v); !d.flooded {
			fn(k.Value, v)
		}
	}
	return true
}

func unknownField(path, key string, known []string) string {
	msg := fmt.Sprintf("%s: unknown field %q", orTop(path), key)
	if s := closest(key, known); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg
}

func orTop(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// closest returns the known name within edit distance 2 of s, if any.
func closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(s, k); dist < bestD {
			best, bestD = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99 // not worth a suggestion, and keeps fuzzed input cheap
	}
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// str decodes a string scalar. Scalars YAML reads as other types (numbers,
// booleans) are refused: a quoted value says what the author meant.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			hint = " (quote it to make it a string)"
		}
		d.errAt(n, "%s: want a string, got %s%s", path, kindName(n), hint)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errAt(n, "%s: want true or false, got %s", path, kindName(n))
		return false, false
	}
	b, err := strconv.ParseBool(n.Value)
	if err != nil { // yaml.v3 also tags True/TRUE as !!bool
		b = strings.EqualFold(n.Value, "true")
	}
	return b, true
}

func (d *decoder) integer(n *yaml.Node, path string) (int64, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.errAt(n, "%s: want an integer, got %s", path, kindName(n))
		return 0, false
	}
	i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, 64)
	if err != nil {
		d.errAt(n, "%s: integer %s out of range", path, n.Value)
		return 0, false
	}
	return i, true
}

// list walks sequence n and calls fn with each item's path.
func (d *decoder) list(n *yaml.Node, path string, fn func(i int, item *yaml.Node, itemPath string)) bool {
	if n.Kind != yaml.SequenceNode {
		d.errAt(n, "%s: want a list, got %s", path, kindName(n))
		return false
	}
	for i, item := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		if item = d.resolve(item); d.flooded {
			return false
		}
		d.pos[p] = Pos{item.Line, item.Column}
		fn(i, item, p)
	}
	return true
}

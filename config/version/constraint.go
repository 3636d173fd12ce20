package version

import (
	"fmt"
	"strings"
)

// Constraint is a parsed `version:` value; the zero Constraint admits
// every version.
type Constraint struct {
	Text  string
	terms []term
}

type term struct {
	op     string // ">", ">=", "<", "<=", "=", or "*" for a prefix
	v      Version
	prefix []field // for "*": the fields a version must start with
}

// ParseConstraint reads "12.*", "12.9.*", ">=24.04 <25" (blanks or commas
// between terms, all must hold) or an exact version.
func ParseConstraint(s string) (Constraint, error) {
	c := Constraint{Text: s}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' })
	if len(parts) == 0 {
		return c, fmt.Errorf("empty version constraint: want 12.*, >=24.04 <25 or an exact version")
	}
	for _, p := range parts {
		t, err := parseTerm(p)
		if err != nil {
			return c, fmt.Errorf("version constraint %q: %w", s, err)
		}
		c.terms = append(c.terms, t)
	}
	return c, nil
}

func parseTerm(p string) (term, error) {
	if head, ok := strings.CutSuffix(p, ".*"); ok {
		v, err := Parse(head)
		if err != nil {
			return term{}, err
		}
		return term{op: "*", v: v, prefix: v.fields}, nil
	}
	op := ""
	for _, o := range []string{">=", "<=", ">", "<", "="} {
		if rest, ok := strings.CutPrefix(p, o); ok {
			op, p = o, rest
			break
		}
	}
	if op == "" {
		op = "="
	}
	v, err := Parse(p)
	if err != nil {
		return term{}, err
	}
	return term{op: op, v: v}, nil
}

// Admits reports whether v meets every term of c.
func (c Constraint) Admits(v Version) bool {
	for _, t := range c.terms {
		if !t.admits(v) {
			return false
		}
	}
	return true
}

func (t term) admits(v Version) bool {
	if t.op == "*" {
		if len(v.fields) < len(t.prefix) {
			return Compare(v, t.v) == 0 // "12" against "12.0.*": zeros implied
		}
		for i, f := range t.prefix {
			if compareField(&v.fields[i], &f) != 0 {
				return false
			}
		}
		return true
	}
	c := Compare(v, t.v)
	switch t.op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return c == 0
}

// WantsPre reports whether a term of c names a version with a word
// (">=42_Beta", "12.9.0-live"): only then are such versions candidates.
func (c Constraint) WantsPre() bool {
	for _, t := range c.terms {
		if t.v.Pre() {
			return true
		}
	}
	return false
}

// String is the constraint as written.
func (c Constraint) String() string { return c.Text }

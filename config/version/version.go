// Package version orders the release versions that distributions put in
// their file and directory names, and matches them against a manifest's
// `version:` constraint. It imports only the standard library.
//
// Ordering (distro-neutral, the same for every vendor):
//   - A version starts with a digit and holds digits, letters and the
//     separators . - _ + ~ ("12.10.0", "24.04.2", "41-1.4", "2025.01.01").
//   - It is split into fields at every separator and between a run of
//     digits and a run of letters ("12.9.0-rc1" → 12 9 0 rc 1).
//   - Fields compare left to right: numbers by value (12.10 > 12.9,
//     2025.01.01 = 2025.1.1), words by byte order (alpha < beta < rc).
//   - A word sorts before a number and before the end: it marks a
//     pre-release (12.9.0-rc1 < 12.9.0 < 12.9.0.1; 41_Beta-1.2 < 41-1.4).
//   - A missing field counts as 0 against a number: 12.9 = 12.9.0.
//   - A version with a word (12.9.0-rc1, 12.9.0-live, 41_Beta-1.2) is a
//     pre-release or a variant: newest() skips it unless the constraint
//     names a word itself (Constraint.Admits alone does not: it orders).
//
// Constraints: "12.*" (the release line 12: 12, 12.9.0, 12.10; not 120),
// "12.9.*", comparisons ">=24.04 <25" (all must hold; > >= < <= =), or an
// exact version ("12.9.0", which equals 12.9.0 by the ordering above).
package version

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is a parsed version; its text is kept as written.
type Version struct {
	Text   string
	fields []field
}

type field struct {
	num  uint64
	word string // "" for a number
}

// valid is what a version may be written as.
var valid = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~_-]*$`)

// Pattern is the regular expression (without anchors) a version matches:
// what the placeholder {version} stands for in a file or directory name.
const Pattern = `[0-9][0-9A-Za-z.+~_-]*`

// Parse reads a version; it must start with a digit.
func Parse(s string) (Version, error) {
	if !valid.MatchString(s) || len(s) > 64 {
		return Version{}, fmt.Errorf("%q is not a version: want a digit first, then digits, letters and . - _ + ~ (64 at most)", s)
	}
	v := Version{Text: s}
	for _, part := range strings.FieldsFunc(s, isSep) {
		for part != "" {
			n := runLen(part)
			run := part[:n]
			part = part[n:]
			if run[0] >= '0' && run[0] <= '9' {
				u, err := strconv.ParseUint(run, 10, 64)
				if err != nil {
					return Version{}, fmt.Errorf("%q: the number %s is too large", s, run)
				}
				v.fields = append(v.fields, field{num: u})
			} else {
				v.fields = append(v.fields, field{word: strings.ToLower(run)})
			}
		}
	}
	return v, nil
}

func isSep(r rune) bool { return strings.ContainsRune(".-_+~", r) }

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// runLen is the length of the leading run of digits, or of non-digits.
func runLen(s string) int {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return i
}

// Compare returns -1, 0 or +1 as a is older than, the same as, or newer
// than b.
func Compare(a, b Version) int {
	for i := 0; i < len(a.fields) || i < len(b.fields); i++ {
		if c := compareField(at(a.fields, i), at(b.fields, i)); c != 0 {
			return c
		}
	}
	return 0
}

// at is field i, or nil past the end.
func at(fs []field, i int) *field {
	if i < len(fs) {
		return &fs[i]
	}
	return nil
}

// compareField orders two fields; nil is the end of a version, which is
// 0 against a number and newer than a word.
func compareField(a, b *field) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -compareField(b, a)
	case b == nil:
		if a.word != "" {
			return -1
		}
		return cmp(a.num, 0)
	case a.word == "" && b.word == "":
		return cmp(a.num, b.num)
	case a.word == "":
		return 1
	case b.word == "":
		return -1
	}
	return strings.Compare(a.word, b.word)
}

func cmp(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Pre reports whether v holds a word (rc1, beta, live): a pre-release or
// a variant, which a constraint admits only when it names one itself.
func (v Version) Pre() bool {
	for _, f := range v.fields {
		if f.word != "" {
			return true
		}
	}
	return false
}

// String is the version as written.
func (v Version) String() string { return v.Text }

// Package plural puts the nouns of compose's messages in the number their
// count takes ("1 ISO", "2 ISOs", "1 entry", "3 entries"): the one place
// every message with a count goes through. English rules suffice for the
// words compose uses; a phrase's last word may be a verb ("file is",
// "files are"). It imports nothing of the module.
package plural

import (
	"strconv"
	"strings"
)

// Count is n and noun in the number n takes: Count(1, "entry") is
// "1 entry", Count(0, "entry") "0 entries".
func Count(n int, noun string) string {
	return strconv.Itoa(n) + " " + Of(n, noun)
}

// Of is noun (singular, possibly a phrase) in the number n takes: the
// phrase's noun in the plural, and a final "is", "was" or "has" agreeing.
func Of(n int, noun string) string {
	if n == 1 || noun == "" {
		return noun
	}
	words := strings.Fields(noun)
	last := len(words) - 1
	if v, ok := verbs[words[last]]; ok && last > 0 {
		words[last] = v
		last--
	}
	words[last] = word(words[last])
	return strings.Join(words, " ")
}

var verbs = map[string]string{"is": "are", "was": "were", "has": "have"}

// word is the plural of one noun.
func word(w string) string {
	lower := strings.ToLower(w)
	switch {
	case w == strings.ToUpper(w) && len(w) > 1: // an acronym: ISOs, ESPs
		return w + "s"
	case strings.HasSuffix(lower, "y") && len(w) > 1 && !strings.ContainsRune("aeiou", rune(lower[len(lower)-2])):
		return w[:len(w)-1] + "ies"
	case strings.HasSuffix(lower, "s"), strings.HasSuffix(lower, "x"), strings.HasSuffix(lower, "z"),
		strings.HasSuffix(lower, "ch"), strings.HasSuffix(lower, "sh"):
		return w + "es"
	}
	return w + "s"
}

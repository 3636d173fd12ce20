package bootloader

import (
	"fmt"
	"strings"
)

// A small lexer and parser for the subset of GRUB's script language Render emits, written
// from GRUB's rules (grub-core/script/yylex.l): words end at blanks, newline and ';';
// '…' is literal to the next quote, "…" is literal except \ before $ " \ and newline,
// a backslash outside quotes takes the next character literally, '#' starting a word
// comments out the rest of the line, and '{' '}' standing alone delimit a block.

type tokKind int

const (
	tWord tokKind = iota
	tSep
)

type grubToken struct {
	kind   tokKind
	val    string // the word after quote removal
	quoted bool   // any part was quoted (a quoted "{" is a word, not a brace)
}

func lexGRUB(src string) ([]grubToken, error) {
	var toks []grubToken
	var cur strings.Builder
	inWord, quoted := false, false
	flush := func() {
		if inWord {
			toks = append(toks, grubToken{tWord, cur.String(), quoted})
		}
		cur.Reset()
		inWord, quoted = false, false
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == ' ' || c == '\t':
			flush()
		case c == '\n' || c == ';':
			flush()
			toks = append(toks, grubToken{kind: tSep})
		case c == '#' && !inWord:
			for i < len(src) && src[i] != '\n' {
				i++
			}
			i--
		case c == '\'':
			j := strings.IndexByte(src[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote at byte %d", i)
			}
			cur.WriteString(src[i+1 : i+1+j])
			i += j + 1
			inWord, quoted = true, true
		case c == '"':
			i++
			for ; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' && i+1 < len(src) && strings.IndexByte("$\"\\\n", src[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(src[i])
			}
			if i >= len(src) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			inWord, quoted = true, true
		case c == '\\':
			if i+1 < len(src) {
				i++
				if src[i] != '\n' {
					cur.WriteByte(src[i])
					inWord, quoted = true, true
				}
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	flush()
	return toks, nil
}

// command is one simple command with the platform it can run on, derived from the
// if [ "$grub_platform" = efi ] guards around it: "efi", "pc" (the else branch) or "".
type command struct {
	words    []string
	platform string
	depth    int
}

// script is the parsed structure: commands, plus a skeleton (command names and block
// keywords in order) that must not change whatever strings are quoted into it.
type script struct {
	cmds     []command
	skeleton []string
	entries  [][]string // the words of each menuentry line
}

var keywords = map[string]bool{"if": true, "then": true, "elif": true, "else": true, "fi": true, "{": true, "}": true}

func parseGRUB(src string) (script, error) {
	toks, err := lexGRUB(src)
	if err != nil {
		return script{}, err
	}
	var s script
	type frame struct{ kind, platform string }
	stack := []frame{{"top", ""}}
	platform := func() string { return stack[len(stack)-1].platform }
	var words []string
	pendingPlatform := ""
	end := func() error {
		if len(words) == 0 {
			return nil
		}
		w := words
		words = nil
		switch {
		case w[0] == "if" || w[0] == "elif":
			cond := strings.Join(w[1:], " ")
			if w[0] == "if" {
				stack = append(stack, frame{"if", platform()})
			}
			pendingPlatform = ""
			if cond == "[ $grub_platform = efi ]" {
				pendingPlatform = "efi"
			}
			s.skeleton = append(s.skeleton, w[0])
			s.cmds = append(s.cmds, command{append([]string{"["}, w[2:]...), platform(), len(stack)})
			return nil
		case w[0] == "menuentry":
			if w[len(w)-1] != "{" {
				return fmt.Errorf("menuentry without '{' on its line: %q", w)
			}
			s.entries = append(s.entries, w[:len(w)-1])
			s.skeleton = append(s.skeleton, "menuentry", fmt.Sprint(len(w)))
			stack = append(stack, frame{"{", platform()})
			return nil
		}
		s.skeleton = append(s.skeleton, w[0])
		s.cmds = append(s.cmds, command{w, platform(), len(stack)})
		return nil
	}
	for _, t := range toks {
		if t.kind == tSep {
			if err := end(); err != nil {
				return s, err
			}
			continue
		}
		if !t.quoted && keywords[t.val] && len(words) == 0 || !t.quoted && t.val == "{" && len(words) > 0 && words[0] == "menuentry" {
			switch t.val {
			case "{":
				if len(words) > 0 {
					words = append(words, "{")
					if err := end(); err != nil {
						return s, err
					}
					continue
				}
				return s, fmt.Errorf("stray '{'")
			case "}":
				if stack[len(stack)-1].kind != "{" {
					return s, fmt.Errorf("'}' closes %s", stack[len(stack)-1].kind)
				}
				stack = stack[:len(stack)-1]
				s.skeleton = append(s.skeleton, "}")
			case "then":
				top := &stack[len(stack)-1]
				if pendingPlatform != "" {
					top.platform = pendingPlatform
				}
				s.skeleton = append(s.skeleton, "then")
			case "else":
				top := &stack[len(stack)-1]
				if top.platform == "efi" && (len(stack) < 2 || stack[len(stack)-2].platform != "efi") {
					top.platform = "pc"
				}
				s.skeleton = append(s.skeleton, "else")
			case "fi":
				if stack[len(stack)-1].kind != "if" {
					return s, fmt.Errorf("'fi' closes %s", stack[len(stack)-1].kind)
				}
				stack = stack[:len(stack)-1]
				s.skeleton = append(s.skeleton, "fi")
			default: // if, elif start a command
				words = append(words, t.val)
			}
			continue
		}
		words = append(words, t.val)
	}
	if err := end(); err != nil {
		return s, err
	}
	if len(stack) != 1 {
		return s, fmt.Errorf("%d blocks left open", len(stack)-1)
	}
	return s, nil
}

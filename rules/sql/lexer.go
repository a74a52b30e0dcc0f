package sql

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pos is a position in the statement text: 1-based line and column (in characters).
type Pos struct{ Line, Col int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// Error is a statement AWS IoT would refuse with SqlParseException: the message names the
// position and, for an unknown or unserved function, its name.
type Error struct {
	Pos      Pos
	Msg      string
	Function string // set when the error is about a function
}

func (e *Error) Error() string { return fmt.Sprintf("line %d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg) }

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tVar  // @name
	tOp   // punctuation and operators
	tStar // *
)

type token struct {
	kind tokKind
	text string // identifier, operator, number text, or unquoted string
	pos  Pos
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of statement"
	case tString:
		return fmt.Sprintf("'%s'", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

// maxStatement bounds the statement text the parser accepts (AWS's limit on a rule's SQL is
// not documented; rules are small).
const maxStatement = 64 * 1024

func lex(src string) ([]token, error) {
	if len(src) > maxStatement {
		return nil, &Error{Pos: Pos{1, 1}, Msg: fmt.Sprintf("statement of %d bytes exceeds %d", len(src), maxStatement)}
	}
	if !utf8.ValidString(src) {
		return nil, &Error{Pos: Pos{1, 1}, Msg: "statement is not valid UTF-8"}
	}
	var toks []token
	line, col := 1, 1
	i := 0
	adv := func(n int) {
		for _, r := range src[i : i+n] {
			if r == '\n' {
				line++
				col = 1
			} else {
				col++
			}
		}
		i += n
	}
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		if unicode.IsSpace(r) || r == 0 {
			adv(size)
			continue
		}
		pos := Pos{line, col}
		switch {
		case r == '\'' || r == '"' || r == '`':
			j := i + 1
			var sb strings.Builder
			closed := false
			for j < len(src) {
				c := src[j]
				if c == '\\' && j+1 < len(src) {
					switch src[j+1] {
					case 'n':
						sb.WriteByte('\n')
					case 't':
						sb.WriteByte('\t')
					case 'r':
						sb.WriteByte('\r')
					default:
						sb.WriteByte(src[j+1])
					}
					j += 2
					continue
				}
				if c == byte(r) {
					if j+1 < len(src) && src[j+1] == byte(r) { // doubled quote
						sb.WriteByte(c)
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				sb.WriteByte(c)
				j++
			}
			if !closed {
				return nil, &Error{Pos: pos, Msg: "string literal is not closed"}
			}
			kind := tString
			if r == '`' {
				kind = tIdent // a quoted identifier
			}
			toks = append(toks, token{kind: kind, text: sb.String(), pos: pos})
			adv(j - i)
		case r >= '0' && r <= '9':
			j := i
			for j < len(src) && src[j] >= '0' && src[j] <= '9' {
				j++
			}
			if j+1 < len(src) && src[j] == '.' && src[j+1] >= '0' && src[j+1] <= '9' {
				j++
				for j < len(src) && src[j] >= '0' && src[j] <= '9' {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && src[k] >= '0' && src[k] <= '9' {
					for k < len(src) && src[k] >= '0' && src[k] <= '9' {
						k++
					}
					j = k
				}
			}
			toks = append(toks, token{kind: tNumber, text: src[i:j], pos: pos})
			adv(j - i)
		case r == '_' || unicode.IsLetter(r) || r == '@':
			j := i + size
			for j < len(src) {
				c, n := utf8.DecodeRuneInString(src[j:])
				if c != '_' && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
					break
				}
				j += n
			}
			kind := tIdent
			text := src[i:j]
			if r == '@' {
				kind = tVar
				text = text[1:]
				if text == "" {
					return nil, &Error{Pos: pos, Msg: "variable name expected after @"}
				}
			}
			toks = append(toks, token{kind: kind, text: text, pos: pos})
			adv(j - i)
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "<>", "!=", "==", "<=", ">=":
				toks = append(toks, token{kind: tOp, text: two, pos: pos})
				adv(2)
				continue
			}
			switch r {
			case '*':
				toks = append(toks, token{kind: tStar, text: "*", pos: pos})
			case '=', '<', '>', '+', '-', '/', '%', '(', ')', ',', '.', '[', ']', '{', '}', ':':
				toks = append(toks, token{kind: tOp, text: string(r), pos: pos})
			default:
				return nil, &Error{Pos: pos, Msg: fmt.Sprintf("unexpected character %q", r)}
			}
			adv(size)
		}
	}
	toks = append(toks, token{kind: tEOF, pos: Pos{line, col}})
	return toks, nil
}

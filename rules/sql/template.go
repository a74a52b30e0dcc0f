package sql

import (
	"strings"
)

// Template is a substitution template of an action field: text with ${expression} parts. $$
// writes one $ (republish into reserved topics: $$aws/things/...).
type Template struct {
	text  string
	parts []tmplPart
}

type tmplPart struct {
	lit string
	x   expr // nil for a literal part
}

// Text is the template as written.
func (t *Template) Text() string { return t.text }

// IsStatic reports whether the template has no ${} part.
func (t *Template) IsStatic() bool {
	for _, p := range t.parts {
		if p.x != nil {
			return false
		}
	}
	return true
}

// ParseTemplate parses a substitution template. Expressions follow the SQL of version. Errors
// name the position within the template.
func ParseTemplate(text, version string) (*Template, error) {
	if version == "" {
		version = DefaultVersion
	}
	t := &Template{text: text}
	var lit strings.Builder
	for i := 0; i < len(text); {
		switch {
		case strings.HasPrefix(text[i:], "$$"):
			lit.WriteByte('$')
			i += 2
		case strings.HasPrefix(text[i:], "${"):
			end := closingBrace(text, i+2)
			if end < 0 {
				return nil, &Error{Pos: Pos{1, i + 1}, Msg: "substitution ${ is not closed"}
			}
			inner := text[i+2 : end]
			p, err := parseExpr(inner, version)
			if err != nil {
				if pe, ok := err.(*Error); ok {
					pe.Pos.Col += i + 2
					return nil, pe
				}
				return nil, err
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, tmplPart{lit: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, tmplPart{x: p})
			i = end + 1
		default:
			lit.WriteByte(text[i])
			i++
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, tmplPart{lit: lit.String()})
	}
	return t, nil
}

// closingBrace finds the } closing a ${ that starts at i, skipping quoted text and nested
// object literals.
func closingBrace(s string, i int) int {
	depth := 0
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return -1
			}
			i += j + 1
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

// parseExpr parses one expression (a template part).
func parseExpr(text, version string) (expr, error) {
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, version: version, funcs: map[string]bool{}}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t.pos, "unexpected %s in substitution", t)
	}
	return x, nil
}

// Functions lists the functions a template calls.
func (t *Template) Functions() []string {
	var out []string
	for _, p := range t.parts {
		walk(p.x, func(e expr) {
			if c, ok := e.(*call); ok {
				out = append(out, c.name)
			}
		})
	}
	return out
}

// render evaluates against the original payload. It works on a copy of the evaluation
// context, so the actions of one message can render their templates concurrently.
func (t *Template) render(shared *evalCtx) string {
	var sb strings.Builder
	cc := *shared
	c := &cc
	c.row = c.payload
	for _, p := range t.parts {
		if p.x == nil {
			sb.WriteString(p.lit)
			continue
		}
		v := c.eval(p.x)
		if s, ok := toString(v); ok {
			sb.WriteString(s)
		} else if v == nil {
			sb.WriteString("null")
		}
	}
	return sb.String()
}

// RenderStandalone resolves a template against a message with no statement (SET variables
// absent); used for errorAction fields.
func (t *Template) RenderStandalone(msg *Message, opts *Options, version string) string {
	return t.render(newCtx(msg, opts, version))
}

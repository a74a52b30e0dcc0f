package index

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// This file parses AWS IoT fleet indexing's query syntax (a Lucene subset):
//
//	thingName:abc            field:value, the value may hold * and ? wildcards
//	attributes.x:*           the field exists
//	abc                      a bare term: any field has the value
//	shadow.reported.t:[1 TO 5]  ranges, [ ] inclusive, { } exclusive, mixable
//	attributes.n>10          comparisons < > <= >=
//	a AND b, a OR b, NOT a, -a, a b (AND), ( ), field:(a OR b), "quoted value", \ escapes
//
// Field names are case-sensitive, values match without case. A query has at most maxTerms
// terms and at most one term with a leading wildcard. Errors name the position (1-based
// character offset) where the parser stopped.

// Limits of a query (AWS IoT quotas and the model's bounds).
const (
	maxQueryLen = 1000 // the model's queryString has no maximum; bound the work anyway
	maxTerms    = 12
	maxDepth    = 32 // nested parentheses
)

// QueryError is a query that does not parse: InvalidQueryException on the wire.
type QueryError struct {
	Pos     int // 1-based character position in the query
	Message string
}

func (e *QueryError) Error() string { return fmt.Sprintf("at character %d: %s", e.Pos, e.Message) }

// node is a parsed query.
type node interface{ isNode() }

type (
	andNode struct{ l, r node }
	orNode  struct{ l, r node }
	notNode struct{ n node }
	allNode struct{} // a bare *
	// termNode matches one field (or any field when field is "") against a value pattern.
	termNode struct {
		field   string
		value   string // lowercased; wildcards live in pattern
		pattern bool   // value holds unescaped * or ? (as \x01 and \x02)
		exists  bool   // field:*
		runes   []rune // the pattern's runes, when pattern
		num     float64
		isNum   bool // value is a number (compared numerically with numeric values)
	}
	// rangeNode is field:[lo TO hi] (or { }), or a comparison (one bound open: "" means none).
	rangeNode struct {
		field          string
		lo, hi         string
		loIncl, hiIncl bool
		loN, hiN       float64
		numeric        bool // every given bound is a number
	}
)

func (andNode) isNode()   {}
func (orNode) isNode()    {}
func (notNode) isNode()   {}
func (allNode) isNode()   {}
func (termNode) isNode()  {}
func (rangeNode) isNode() {}

// Wildcard markers inside a termNode's value: characters no query can contain once escapes
// are resolved, since control characters are refused.
const (
	wildStar = '\x01'
	wildOne  = '\x02'
)

// tokKind is the kind of a lexical token.
type tokKind int

const (
	tEOF  tokKind = iota
	tWord         // a word, possibly with field:, comparison and wildcards, kept raw
	tLParen
	tRParen
	tAnd
	tOr
	tNot
	tMinus // - before a term
	tLBracket
	tRBracket
	tTo
)

type token struct {
	kind tokKind
	text string // raw text of a word (escapes kept)
	pos  int    // 1-based
}

// Parse parses a query string.
func Parse(q string) (node, error) {
	if strings.TrimSpace(q) == "" {
		return nil, &QueryError{Pos: 1, Message: "the query is empty"}
	}
	if len(q) > maxQueryLen {
		return nil, &QueryError{Pos: maxQueryLen + 1, Message: fmt.Sprintf("the query is longer than %d characters", maxQueryLen)}
	}
	for i, r := range q {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return nil, &QueryError{Pos: i + 1, Message: "control characters are not allowed"}
		}
	}
	toks, err := lex(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, query: q}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &QueryError{Pos: t.pos, Message: fmt.Sprintf("unexpected %s", describe(t))}
	}
	if p.terms > maxTerms {
		return nil, &QueryError{Pos: 1, Message: fmt.Sprintf("the query has %d terms; at most %d are allowed", p.terms, maxTerms)}
	}
	return n, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of query"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tLBracket:
		return "'" + t.text + "'"
	case tRBracket:
		return "'" + t.text + "'"
	}
	return fmt.Sprintf("%q", t.text)
}

// lex splits the query into tokens. A word runs until whitespace or a parenthesis that is not
// escaped; inside double quotes everything up to the closing quote belongs to the word.
// Brackets and braces are tokens at the start of a range (after "field:").
func lex(q string) ([]token, error) {
	var toks []token
	rs := []rune(q)
	i := 0
	afterOp := false // the previous word ended in field:, so this word is a value
	for i < len(rs) {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
			continue
		case r == '(':
			toks = append(toks, token{kind: tLParen, pos: i + 1, text: "("})
			afterOp = false
			i++
			continue
		case r == ')':
			toks = append(toks, token{kind: tRParen, pos: i + 1, text: ")"})
			afterOp = false
			i++
			continue
		case r == '[' || r == '{':
			toks = append(toks, token{kind: tLBracket, pos: i + 1, text: string(r)})
			afterOp = false
			i++
			continue
		case r == ']' || r == '}':
			toks = append(toks, token{kind: tRBracket, pos: i + 1, text: string(r)})
			afterOp = false
			i++
			continue
		case r == '-' && !afterOp && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) && (len(toks) == 0 || (toks[len(toks)-1].kind != tLBracket && toks[len(toks)-1].kind != tTo)):
			toks = append(toks, token{kind: tMinus, pos: i + 1, text: "-"})
			i++
			continue
		}
		start := i
		var b strings.Builder
		for i < len(rs) {
			r := rs[i]
			if r == '\\' {
				if i+1 >= len(rs) {
					return nil, &QueryError{Pos: i + 1, Message: "a backslash must escape a character"}
				}
				b.WriteRune(r)
				b.WriteRune(rs[i+1])
				i += 2
				continue
			}
			if r == '"' {
				j := i + 1
				for j < len(rs) && rs[j] != '"' {
					if rs[j] == '\\' && j+1 < len(rs) {
						j++
					}
					j++
				}
				if j >= len(rs) {
					return nil, &QueryError{Pos: i + 1, Message: "unterminated quoted string"}
				}
				b.WriteString(string(rs[i : j+1]))
				i = j + 1
				continue
			}
			if unicode.IsSpace(r) || r == '(' || r == ')' || r == ']' || r == '}' {
				break
			}
			if (r == '[' || r == '{') && b.Len() > 0 {
				break
			}
			b.WriteRune(r)
			i++
			// An operator ends the field part: "a.b>5" and "a.b > 5" lex alike because the
			// value after the operator is read as its own word. Inside a value, ':' is a
			// character like any other (thing names may hold it).
			if !afterOp && (r == ':' || r == '>' || r == '<') {
				if i < len(rs) && rs[i] == '=' {
					b.WriteRune('=')
					i++
				}
				break
			}
		}
		w := b.String()
		t := token{kind: tWord, text: w, pos: start + 1}
		_, _, endsOp := fieldOp(w)
		afterOp = !afterOp && (endsOp || isOp(w))
		switch w {
		case "AND", "&&":
			t.kind = tAnd
		case "OR", "||":
			t.kind = tOr
		case "NOT":
			t.kind = tNot
		case "TO":
			t.kind = tTo
		}
		toks = append(toks, t)
	}
	toks = append(toks, token{kind: tEOF, pos: len(rs) + 1})
	return toks, nil
}

type parser struct {
	toks      []token
	i         int
	query     string
	terms     int
	leadWilds int
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// or := and (OR and)*
func (p *parser) or(depth int) (node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek().kind == tOr {
		p.next()
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

// and := unary ((AND | NOT-as-and-not | nothing) unary)*
func (p *parser) and(depth int) (node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch p.peek().kind {
		case tAnd:
			p.next()
		case tWord, tLParen, tNot, tMinus:
		default:
			return l, nil
		}
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
}

// unary := (NOT | -) unary | primary
func (p *parser) unary(depth int) (node, error) {
	switch p.peek().kind {
	case tNot, tMinus:
		p.next()
		n, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	return p.primary(depth)
}

// primary := ( or ) | word | field: value-group | field: range | field op value
func (p *parser) primary(depth int) (node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if depth >= maxDepth {
			return nil, &QueryError{Pos: t.pos, Message: "parentheses nested too deep"}
		}
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &QueryError{Pos: c.pos, Message: fmt.Sprintf("expected ')' to close the '(' at character %d, found %s", t.pos, describe(c))}
		}
		return n, nil
	case tWord:
		return p.word(t, depth)
	case tEOF:
		return nil, &QueryError{Pos: t.pos, Message: "the query ends where a term is expected"}
	}
	return nil, &QueryError{Pos: t.pos, Message: fmt.Sprintf("expected a term, found %s", describe(t))}
}

// isOp reports whether w is an operator alone.
func isOp(w string) bool {
	switch w {
	case ":", ">", "<", ">=", "<=":
		return true
	}
	return false
}

// fieldOp splits "field:" / "field>" / "field<=" into the field and the operator.
func fieldOp(w string) (field, op string, ok bool) {
	for _, o := range []string{">=", "<=", ":", ">", "<"} {
		if strings.HasSuffix(w, o) && !strings.HasSuffix(w, "\\"+o) {
			f := strings.TrimSuffix(w, o)
			if f != "" && !strings.ContainsAny(f, "\"") {
				return f, o, true
			}
		}
	}
	return "", "", false
}

func (p *parser) word(t token, depth int) (node, error) {
	if n := p.peek(); n.kind == tWord && isOp(n.text) && !strings.HasSuffix(t.text, ":") {
		// "field : value" with spaces around the operator.
		p.next()
		t.text += n.text
	}
	field, op, isField := fieldOp(t.text)
	if !isField {
		if t.text == "*" {
			p.terms++
			return allNode{}, nil
		}
		return p.value("", t)
	}
	if err := validField(field, t.pos); err != nil {
		return nil, err
	}
	if op != ":" {
		v := p.next()
		if v.kind != tWord {
			return nil, &QueryError{Pos: v.pos, Message: fmt.Sprintf("expected a value after %q, found %s", op, describe(v))}
		}
		val, _, err := unescape(v.text, v.pos)
		if err != nil {
			return nil, err
		}
		p.terms++
		r := rangeNode{field: field}
		switch op {
		case ">":
			r.lo = val
		case ">=":
			r.lo, r.loIncl = val, true
		case "<":
			r.hi = val
		case "<=":
			r.hi, r.hiIncl = val, true
		}
		return newRange(r), nil
	}
	switch n := p.peek(); n.kind {
	case tLBracket:
		return p.rangeValue(field)
	case tLParen:
		// field:(a OR b): the group's bare terms all apply to field.
		open := p.next()
		if depth >= maxDepth {
			return nil, &QueryError{Pos: open.pos, Message: "parentheses nested too deep"}
		}
		sub := &fieldParser{parser: p, field: field}
		g, err := sub.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, &QueryError{Pos: c.pos, Message: fmt.Sprintf("expected ')' to close the '(' at character %d, found %s", open.pos, describe(c))}
		}
		return g, nil
	case tWord:
		p.next()
		return p.value(field, n)
	}
	n := p.peek()
	return nil, &QueryError{Pos: n.pos, Message: fmt.Sprintf("expected a value after %q, found %s", t.text, describe(n))}
}

// fieldParser parses the inside of field:( ... ), where bare words are values of field.
type fieldParser struct {
	*parser
	field string
}

func (f *fieldParser) or(depth int) (node, error) {
	l, err := f.and(depth)
	if err != nil {
		return nil, err
	}
	for f.peek().kind == tOr {
		f.next()
		r, err := f.and(depth)
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (f *fieldParser) and(depth int) (node, error) {
	l, err := f.unary(depth)
	if err != nil {
		return nil, err
	}
	for {
		switch f.peek().kind {
		case tAnd:
			f.next()
		case tWord, tLParen, tNot, tMinus:
		default:
			return l, nil
		}
		r, err := f.unary(depth)
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
}

func (f *fieldParser) unary(depth int) (node, error) {
	switch f.peek().kind {
	case tNot, tMinus:
		f.next()
		n, err := f.unary(depth)
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	t := f.next()
	switch t.kind {
	case tLParen:
		if depth >= maxDepth {
			return nil, &QueryError{Pos: t.pos, Message: "parentheses nested too deep"}
		}
		n, err := f.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if c := f.next(); c.kind != tRParen {
			return nil, &QueryError{Pos: c.pos, Message: fmt.Sprintf("expected ')' to close the '(' at character %d, found %s", t.pos, describe(c))}
		}
		return n, nil
	case tWord:
		if _, _, isField := fieldOp(t.text); isField {
			return nil, &QueryError{Pos: t.pos, Message: fmt.Sprintf("a field (%q) inside %s:( ) is not allowed", t.text, f.field)}
		}
		return f.value(f.field, t)
	case tLBracket:
		f.i--
		return f.rangeValue(f.field)
	}
	return nil, &QueryError{Pos: t.pos, Message: fmt.Sprintf("expected a value of %s, found %s", f.field, describe(t))}
}

// value makes the term of field (or "" for any field) from a word token.
func (p *parser) value(field string, t token) (node, error) {
	v, wild, err := unescape(t.text, t.pos)
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, &QueryError{Pos: t.pos, Message: "empty value"}
	}
	p.terms++
	if field != "" && v == string(wildStar) {
		return termNode{field: field, exists: true}, nil
	}
	if wild && (v[0] == wildStar || v[0] == wildOne) {
		p.leadWilds++
		if p.leadWilds > 1 {
			return nil, &QueryError{Pos: t.pos, Message: "only one term per query may start with a wildcard"}
		}
		if len(p.query) > 100 {
			return nil, &QueryError{Pos: t.pos, Message: "a query with a leading wildcard may be at most 100 characters long"}
		}
	}
	return newTerm(field, v, wild), nil
}

// newTerm makes a term node with what matching needs precomputed, so that matching a document
// allocates nothing.
func newTerm(field, v string, wild bool) termNode {
	t := termNode{field: field, value: v, pattern: wild}
	if wild {
		t.runes = []rune(v)
	} else {
		t.num, t.isNum = numberOf(v)
	}
	return t
}

// newRange makes a range node with its numeric bounds precomputed.
func newRange(r rangeNode) rangeNode {
	lo, loOK := numberOf(r.lo)
	hi, hiOK := numberOf(r.hi)
	r.loN, r.hiN = lo, hi
	r.numeric = (r.lo == "" || loOK) && (r.hi == "" || hiOK)
	return r
}

// rangeValue parses [lo TO hi] with [ or { at each end.
func (p *parser) rangeValue(field string) (node, error) {
	open := p.next()
	lo := p.next()
	if lo.kind != tWord {
		return nil, &QueryError{Pos: lo.pos, Message: fmt.Sprintf("expected the lower bound of the range, found %s", describe(lo))}
	}
	if to := p.next(); to.kind != tTo {
		return nil, &QueryError{Pos: to.pos, Message: fmt.Sprintf("expected TO in the range, found %s", describe(to))}
	}
	hi := p.next()
	if hi.kind != tWord {
		return nil, &QueryError{Pos: hi.pos, Message: fmt.Sprintf("expected the upper bound of the range, found %s", describe(hi))}
	}
	cl := p.next()
	if cl.kind != tRBracket {
		return nil, &QueryError{Pos: cl.pos, Message: fmt.Sprintf("expected ']' or '}' to close the range opened at character %d, found %s", open.pos, describe(cl))}
	}
	l, _, err := unescape(lo.text, lo.pos)
	if err != nil {
		return nil, err
	}
	h, _, err := unescape(hi.text, hi.pos)
	if err != nil {
		return nil, err
	}
	if l == string(wildStar) {
		l = ""
	}
	if h == string(wildStar) {
		h = ""
	}
	p.terms++
	return newRange(rangeNode{field: field, lo: l, hi: h, loIncl: open.text == "[" && l != "", hiIncl: cl.text == "]" && h != ""}), nil
}

// unescape resolves quotes and backslash escapes of a value, lowercases it and marks its
// unescaped wildcards; wild reports whether it has any.
func unescape(raw string, pos int) (v string, wild bool, err error) {
	var b strings.Builder
	rs := []rune(raw)
	inQuote := false
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && i+1 < len(rs):
			i++
			b.WriteString(strings.ToLower(string(rs[i])))
		case r == '"':
			inQuote = !inQuote
		case !inQuote && r == '*':
			b.WriteRune(wildStar)
			wild = true
		case !inQuote && r == '?':
			b.WriteRune(wildOne)
			wild = true
		default:
			b.WriteString(strings.ToLower(string(r)))
		}
	}
	if inQuote {
		return "", false, &QueryError{Pos: pos, Message: "unterminated quoted string"}
	}
	return b.String(), wild, nil
}

// validField checks a field name: dotted parts of letters, digits, _ - $ and * (named shadow
// wildcards are not fields, but AWS names like shadow.name.n.reported.x are).
func validField(f string, pos int) error {
	for _, part := range strings.Split(f, ".") {
		if part == "" {
			return &QueryError{Pos: pos, Message: fmt.Sprintf("field %q has an empty part", f)}
		}
		for _, r := range part {
			if !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '$' || r == ':') {
				return &QueryError{Pos: pos, Message: fmt.Sprintf("field %q: character %q is not allowed in a field name", f, r)}
			}
		}
	}
	return nil
}

// numberOf parses a query or document value as a number.
func numberOf(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

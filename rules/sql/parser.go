package sql

import (
	"fmt"
	"strconv"
	"strings"
)

// SQL versions of awsIotSqlVersion.
const (
	Version20151008 = "2015-10-08"
	Version20160323 = "2016-03-23"
	VersionBeta     = "beta"
)

// DefaultVersion is the version of a rule that names none, as on AWS.
const DefaultVersion = Version20151008

// CheckVersion validates an awsIotSqlVersion value ("" is the default).
func CheckVersion(v string) error {
	switch v {
	case "", Version20151008, Version20160323, VersionBeta:
		return nil
	}
	return fmt.Errorf("awsIotSqlVersion %q is not one of %s, %s, %s", v, Version20151008, Version20160323, VersionBeta)
}

// Statement is a parsed rule query.
type Statement struct {
	text    string
	version string
	sets    []setVar
	q       *query
	funcs   []string
}

// Text is the statement as written.
func (s *Statement) Text() string { return s.text }

// Version is the SQL version the statement was parsed for.
func (s *Statement) Version() string { return s.version }

// Topic is the FROM topic filter ("" when the statement has none: a Basic Ingest-only rule).
func (s *Statement) Topic() string { return s.q.from }

// Functions lists the functions the statement calls, lower case, each once.
func (s *Statement) Functions() []string { return s.funcs }

// maxDepth bounds the nesting of expressions, so a hostile statement cannot exhaust the stack.
const maxDepth = 200

// maxVariables bounds SET.
const maxVariables = 10

type parser struct {
	toks    []token
	i       int
	version string
	depth   int
	funcs   map[string]bool
	order   []string
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) errf(pos Pos, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// isKw reports whether t is the keyword kw (case-insensitive).
func isKw(t token, kw string) bool { return t.kind == tIdent && strings.EqualFold(t.text, kw) }

func (p *parser) acceptKw(kw string) bool {
	if isKw(p.peek(), kw) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectKw(kw string) error {
	t := p.peek()
	if !isKw(t, kw) {
		return p.errf(t.pos, "expected %s, found %s", kw, t)
	}
	p.i++
	return nil
}

func (p *parser) acceptOp(op string) bool {
	t := p.peek()
	if t.kind == tOp && t.text == op {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	t := p.peek()
	if t.kind != tOp || t.text != op {
		return p.errf(t.pos, "expected %q, found %s", op, t)
	}
	p.i++
	return nil
}

// reserved words cannot be bare attribute names.
var reserved = map[string]bool{
	"select": true, "from": true, "where": true, "and": true, "or": true, "not": true, "case": true,
	"when": true, "then": true, "else": true, "end": true, "as": true, "true": true, "false": true,
	"null": true, "set": true,
}

// Parse parses a rule query for an awsIotSqlVersion ("" is 2015-10-08). Errors are *Error
// values naming the line and column.
func Parse(text, version string) (*Statement, error) {
	if err := CheckVersion(version); err != nil {
		return nil, err
	}
	if version == "" {
		version = DefaultVersion
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, version: version, funcs: map[string]bool{}}
	st := &Statement{text: text, version: version}
	if p.acceptKw("SET") {
		seen := map[string]bool{}
		for {
			t := p.next()
			if t.kind != tVar {
				return nil, p.errf(t.pos, "expected @variable after SET, found %s", t)
			}
			if len(t.text) > 64 {
				return nil, p.errf(t.pos, "variable @%s is longer than 64 characters", t.text)
			}
			if seen[t.text] {
				return nil, p.errf(t.pos, "variable @%s is assigned twice", t.text)
			}
			if err := p.expectOp("="); err != nil {
				return nil, err
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if refersTo(x, t.text) {
				return nil, p.errf(t.pos, "variable @%s refers to itself", t.text)
			}
			seen[t.text] = true
			st.sets = append(st.sets, setVar{name: t.text, x: x})
			if len(st.sets) > maxVariables {
				return nil, p.errf(t.pos, "more than %d variables", maxVariables)
			}
			if !p.acceptOp(",") {
				break
			}
		}
	}
	q, err := p.selectQuery(false)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.errf(t.pos, "unexpected %s", t)
	}
	st.q = q
	st.funcs = p.order
	return st, nil
}

func refersTo(x expr, name string) (found bool) {
	walk(x, func(e expr) {
		if v, ok := e.(*variable); ok && v.name == name {
			found = true
		}
	})
	return found
}

// walk calls f on every node of x.
func walk(x expr, f func(expr)) {
	if x == nil {
		return
	}
	f(x)
	switch e := x.(type) {
	case *member:
		walk(e.x, f)
	case *index:
		walk(e.x, f)
		walk(e.i, f)
	case *unary:
		walk(e.x, f)
	case *binary:
		walk(e.l, f)
		walk(e.r, f)
	case *call:
		for _, a := range e.args {
			walk(a, f)
		}
	case *castExpr:
		walk(e.x, f)
	case *caseExpr:
		walk(e.x, f)
		for _, w := range e.whens {
			walk(w.match, f)
			walk(w.result, f)
		}
		walk(e.els, f)
	case *objectLit:
		for _, v := range e.vals {
			walk(v, f)
		}
	case *arrayLit:
		for _, v := range e.items {
			walk(v, f)
		}
	case *subquery:
		for _, it := range e.q.items {
			walk(it.x, f)
		}
		walk(e.q.src, f)
		walk(e.q.where, f)
	}
}

// selectQuery parses SELECT … [FROM …] [WHERE …]; nested queries iterate an attribute.
func (p *parser) selectQuery(nested bool) (*query, error) {
	if err := p.expectKw("SELECT"); err != nil {
		return nil, err
	}
	q := &query{}
	if isKw(p.peek(), "VALUE") {
		after := p.toks[p.i+1]
		if !(isKw(after, "FROM") || after.kind == tEOF || (after.kind == tOp && after.text == ",")) {
			p.i++
			q.value = true
		}
	}
	for n := 1; ; n++ {
		t := p.peek()
		if t.kind == tStar && !q.value {
			p.i++
			q.items = append(q.items, selectItem{star: true})
		} else {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			it := selectItem{x: x, alias: defaultName(x, n)}
			if p.acceptKw("AS") {
				a := p.next()
				if a.kind != tIdent && a.kind != tString {
					return nil, p.errf(a.pos, "expected a name after AS, found %s", a)
				}
				it.alias = a.text
			}
			q.items = append(q.items, it)
		}
		if q.value {
			break
		}
		if !p.acceptOp(",") {
			break
		}
	}
	if p.acceptKw("FROM") {
		t := p.peek()
		if nested {
			src, err := p.postfix()
			if err != nil {
				return nil, err
			}
			q.src = src
		} else {
			if t.kind != tString {
				return nil, p.errf(t.pos, "FROM expects a topic filter in single quotes, found %s", t)
			}
			p.i++
			if err := checkFilter(t.text); err != nil {
				return nil, p.errf(t.pos, "FROM topic filter %q: %v", t.text, err)
			}
			q.from = t.text
		}
	} else if nested {
		return nil, p.errf(p.peek().pos, "a nested SELECT needs FROM naming an array attribute, found %s", p.peek())
	}
	if p.acceptKw("WHERE") {
		w, err := p.expr()
		if err != nil {
			return nil, err
		}
		q.where = w
	}
	return q, nil
}

// checkFilter applies MQTT's topic filter rules to FROM.
func checkFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if l == "#" && i != len(levels)-1 {
			return fmt.Errorf("# must be the last level")
		}
		if l != "#" && l != "+" && strings.ContainsAny(l, "#+") {
			return fmt.Errorf("wildcards must take a whole level")
		}
	}
	return nil
}

// defaultName is the key an unaliased SELECT item gets: the last segment of an attribute
// path, the function's name, the variable's name, else _n (its 1-based position).
func defaultName(x expr, n int) string {
	switch e := x.(type) {
	case *attr:
		return e.name
	case *member:
		return e.name
	case *variable:
		return e.name
	case *call:
		return e.name
	case *castExpr:
		return "cast"
	}
	return "_" + strconv.Itoa(n)
}

func (p *parser) enter(pos Pos) error {
	p.depth++
	if p.depth > maxDepth {
		return p.errf(pos, "expression nested more than %d levels", maxDepth)
	}
	return nil
}

func (p *parser) expr() (expr, error) {
	if err := p.enter(p.peek().pos); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	return p.or()
}

func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !isKw(t, "OR") {
			return l, nil
		}
		p.i++
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &binary{pos: t.pos, op: "OR", l: l, r: r}
	}
}

func (p *parser) and() (expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if !isKw(t, "AND") {
			return l, nil
		}
		p.i++
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = &binary{pos: t.pos, op: "AND", l: l, r: r}
	}
}

func (p *parser) not() (expr, error) {
	t := p.peek()
	if isKw(t, "NOT") {
		p.i++
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return &unary{pos: t.pos, op: "NOT", x: x}, nil
	}
	return p.comparison()
}

func (p *parser) comparison() (expr, error) {
	l, err := p.additive()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind == tOp {
		op := t.text
		switch op {
		case "==":
			op = "="
		case "!=":
			op = "<>"
		}
		switch op {
		case "=", "<>", "<", "<=", ">", ">=":
			p.i++
			r, err := p.additive()
			if err != nil {
				return nil, err
			}
			return &binary{pos: t.pos, op: op, l: l, r: r}, nil
		}
	}
	return l, nil
}

func (p *parser) additive() (expr, error) {
	l, err := p.multiplicative()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		if t.kind != tOp || (t.text != "+" && t.text != "-") {
			return l, nil
		}
		p.i++
		r, err := p.multiplicative()
		if err != nil {
			return nil, err
		}
		l = &binary{pos: t.pos, op: t.text, l: l, r: r}
	}
}

func (p *parser) multiplicative() (expr, error) {
	l, err := p.unaryMinus()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		op := ""
		switch {
		case t.kind == tStar:
			op = "*"
		case t.kind == tOp && (t.text == "/" || t.text == "%"):
			op = t.text
		default:
			return l, nil
		}
		p.i++
		r, err := p.unaryMinus()
		if err != nil {
			return nil, err
		}
		l = &binary{pos: t.pos, op: op, l: l, r: r}
	}
}

func (p *parser) unaryMinus() (expr, error) {
	t := p.peek()
	if t.kind == tOp && (t.text == "-" || t.text == "+") {
		p.i++
		if err := p.enter(t.pos); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.unaryMinus()
		if err != nil {
			return nil, err
		}
		if t.text == "+" {
			return x, nil
		}
		if lit, ok := x.(*literal); ok {
			switch v := lit.v.(type) {
			case int64:
				return &literal{pos: t.pos, v: -v}, nil
			case float64:
				return &literal{pos: t.pos, v: -v}, nil
			}
		}
		return &unary{pos: t.pos, op: "-", x: x}, nil
	}
	return p.postfix()
}

func (p *parser) postfix() (expr, error) {
	x, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		switch {
		case t.kind == tOp && t.text == ".":
			p.i++
			n := p.next()
			if n.kind != tIdent && n.kind != tString {
				return nil, p.errf(n.pos, "expected an attribute name after '.', found %s", n)
			}
			x = &member{pos: n.pos, x: x, name: n.text}
		case t.kind == tOp && t.text == "[":
			p.i++
			i, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &index{pos: t.pos, x: x, i: i}
		default:
			return x, nil
		}
	}
}

func (p *parser) primary() (expr, error) {
	t := p.next()
	switch t.kind {
	case tNumber:
		v, err := parseNumber(t.text)
		if err != nil {
			return nil, p.errf(t.pos, "bad number %s", t.text)
		}
		return &literal{pos: t.pos, v: v}, nil
	case tString:
		return &literal{pos: t.pos, v: t.text}, nil
	case tVar:
		return &variable{pos: t.pos, name: t.text}, nil
	case tStar:
		return &wildcard{pos: t.pos}, nil
	case tEOF:
		return nil, p.errf(t.pos, "unexpected end of statement: an expression is missing")
	case tOp:
		switch t.text {
		case "(":
			if isKw(p.peek(), "SELECT") {
				if p.version == Version20151008 {
					return nil, p.errf(t.pos, "nested SELECT needs awsIotSqlVersion 2016-03-23")
				}
				q, err := p.selectQuery(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return &subquery{pos: t.pos, q: q}, nil
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		case "{":
			if p.version == Version20151008 {
				return nil, p.errf(t.pos, "object literals need awsIotSqlVersion 2016-03-23")
			}
			o := &objectLit{pos: t.pos}
			if p.acceptOp("}") {
				return o, nil
			}
			for {
				k := p.next()
				if k.kind != tString && k.kind != tIdent {
					return nil, p.errf(k.pos, "expected a quoted key in the object literal, found %s", k)
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k.text), append(o.vals, v)
				if p.acceptOp("}") {
					return o, nil
				}
				if err := p.expectOp(","); err != nil {
					return nil, err
				}
			}
		case "[":
			if p.version == Version20151008 {
				return nil, p.errf(t.pos, "array literals need awsIotSqlVersion 2016-03-23")
			}
			a := &arrayLit{pos: t.pos}
			if p.acceptOp("]") {
				return a, nil
			}
			for {
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				a.items = append(a.items, v)
				if p.acceptOp("]") {
					return a, nil
				}
				if err := p.expectOp(","); err != nil {
					return nil, err
				}
			}
		}
		return nil, p.errf(t.pos, "unexpected %s", t)
	case tIdent:
		low := strings.ToLower(t.text)
		switch low {
		case "true":
			return &literal{pos: t.pos, v: true}, nil
		case "false":
			return &literal{pos: t.pos, v: false}, nil
		case "null":
			return &literal{pos: t.pos, v: nil}, nil
		case "case":
			return p.caseExpr(t.pos)
		}
		if n := p.peek(); n.kind == tOp && n.text == "(" {
			p.i++
			if low == "cast" {
				return p.cast(t.pos)
			}
			return p.call(t, low)
		}
		if reserved[low] {
			return nil, p.errf(t.pos, "unexpected %s", strings.ToUpper(t.text))
		}
		return &attr{pos: t.pos, name: t.text}, nil
	}
	return nil, p.errf(t.pos, "unexpected %s", t)
}

func (p *parser) call(t token, name string) (expr, error) {
	fn, ok := functions[name]
	if !ok {
		return nil, &Error{Pos: t.pos, Function: name, Msg: fmt.Sprintf("unknown function %s", t.text)}
	}
	if !fn.served {
		return nil, &Error{Pos: t.pos, Function: name, Msg: fmt.Sprintf("function %s is not served by iotcore-local: %s", name, fn.why)}
	}
	if fn.v2016 && p.version == Version20151008 {
		return nil, &Error{Pos: t.pos, Function: name, Msg: fmt.Sprintf("function %s needs awsIotSqlVersion 2016-03-23", name)}
	}
	c := &call{pos: t.pos, name: name, fn: fn}
	if !p.acceptOp(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			if p.acceptOp(")") {
				break
			}
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
	}
	if len(c.args) < fn.min || (fn.max >= 0 && len(c.args) > fn.max) {
		return nil, &Error{Pos: t.pos, Function: name, Msg: fmt.Sprintf("function %s takes %s, got %d", name, fn.arity(), len(c.args))}
	}
	if !p.funcs[name] {
		p.funcs[name] = true
		p.order = append(p.order, name)
	}
	return c, nil
}

// castTypes maps the type names cast accepts to the type they mean; the 2016-only ones are
// marked.
var castTypes = map[string]struct {
	typ   string
	v2016 bool
}{
	"string": {"string", false}, "nvarchar": {"string", false}, "text": {"string", false},
	"ntext": {"string", false}, "varchar": {"string", false},
	"int": {"int", false}, "integer": {"int", false},
	"double": {"decimal", false}, "decimal": {"decimal", true},
	"bool": {"bool", true}, "boolean": {"bool", true},
}

func (p *parser) cast(pos Pos) (expr, error) {
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if err := p.expectKw("AS"); err != nil {
		return nil, err
	}
	t := p.next()
	ct, ok := castTypes[strings.ToLower(t.text)]
	if t.kind != tIdent || !ok {
		return nil, p.errf(t.pos, "cast to unknown type %s", t)
	}
	if ct.v2016 && p.version == Version20151008 {
		return nil, p.errf(t.pos, "cast to %s needs awsIotSqlVersion 2016-03-23", t.text)
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if !p.funcs["cast"] {
		p.funcs["cast"] = true
		p.order = append(p.order, "cast")
	}
	return &castExpr{pos: pos, x: x, typ: ct.typ}, nil
}

func (p *parser) caseExpr(pos Pos) (expr, error) {
	c := &caseExpr{pos: pos}
	if !isKw(p.peek(), "WHEN") {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.x = x
	}
	for p.acceptKw("WHEN") {
		m, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("THEN"); err != nil {
			return nil, err
		}
		r, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.whens = append(c.whens, when{match: m, result: r})
	}
	if len(c.whens) == 0 {
		return nil, p.errf(p.peek().pos, "CASE needs at least one WHEN, found %s", p.peek())
	}
	if p.acceptKw("ELSE") {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		c.els = e
	}
	if err := p.expectKw("END"); err != nil {
		return nil, err
	}
	return c, nil
}

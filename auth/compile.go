package auth

import (
	"fmt"
	"strings"
)

// NamedDocument is a policy document with the name it is stored under; decisions name the
// policy that decided.
type NamedDocument struct {
	Name     string
	Document *Document
}

// Compiled is the policies of one connection, ready to answer authorization questions. It is
// immutable after Compile and safe for concurrent use.
type Compiled struct {
	env        Environment
	statements []compiledStatement // every statement, policy by policy, in document order
	byAction   [numKnownActions]statementLists
	any        statementLists // for actions outside knownActions: every effective statement
	policies   int            // how many documents were compiled, for Explain
	// and, when set, must allow too (Both): the IoT policies of a Cognito identity beside its
	// IAM policy. andLabel names it in explanations.
	and      *Compiled
	andLabel string
}

// statementLists index into Compiled.statements, in policy and document order, split by effect
// because every Deny must be consulted before any Allow.
type statementLists struct {
	deny, allow []int32
}

// compiledStatement is one statement with its variables resolved, its Condition evaluated and
// its patterns compiled.
type compiledStatement struct {
	policy     string
	index      int
	source     *Statement
	deny       bool
	vars       bool        // its document knows policy variables (Version 2012-10-17)
	conditions []Condition // as evaluated (parsed from source.Condition for a hand-built Statement)
	// excluded is set when the Condition is false for this connection: the statement is left out
	// of every decision. failed is the index in conditions of the first condition that was
	// false, or -1; condErr says why the Condition could not be evaluated at all (a Deny then
	// applies as if unconditional, an Allow is excluded).
	excluded    bool
	failed      int
	condErr     string
	actionMask  uint8
	actions     []glob // Action, or NotAction when notAction
	notAction   bool
	resources   []resourcePattern // Resource, or NotResource when notResource
	notResource bool
}

// resourcePattern is one Resource or NotResource entry, compiled for one connection.
type resourcePattern struct {
	source      string   // as written in the policy
	display     string   // as written, with the variables that resolved replaced by their values
	unresolved  []string // variables that kept their literal "${...}" text
	all         bool     // matches every resource of this connection
	none        bool     // matches no resource of this connection
	whyNone     string   // for Explain, when none
	literalVars bool     // has "${" but its policy's Version does not know variables
	glob        glob     // the resource part, matched against "TYPE/NAME"
}

func (r *resourcePattern) match(s *subject) bool {
	switch {
	case r.all:
		return true
	case r.none:
		return false
	}
	return r.glob.match(s)
}

// Compile resolves policy variables from env and builds the matchers of every statement, once
// per connection, so that Decide has only matching left to do.
//
// Each resource ARN is split into its six fields (colons inside ${...} do not split). The first
// five are checked here against "arn", env's partition, "iot", region and account — a pattern
// naming another account or region can never match and is marked so; wildcards are allowed in
// those fields but never cross a colon. The sixth field becomes a glob over "TYPE/NAME".
//
// Every condition key AWS IoT provides describes the connection, not the message, so each
// statement's Condition is evaluated here, once: a statement whose Condition is false is
// excluded from every decision of the connection (Explain and Excluded say which condition was
// false and what it saw), and Decide never looks at conditions. A hand-built statement whose
// Condition cannot be evaluated fails closed: an Allow is excluded, a Deny applies.
//
// Policy variables are substituted only in documents of Version 2012-10-17: as in IAM, in a
// document of 2008-10-17 or without Version, "${...}" is literal text.
//
// A hand-built statement with both Action and NotAction (or Resource and NotResource) uses
// Action (Resource); ParseDocument never produces one. Compiled keeps references to the
// documents, which must not be modified afterwards.
func Compile(policies []NamedDocument, env Environment) *Compiled {
	c := &Compiled{env: env}
	sc := newScope(&c.env)
	for _, p := range policies {
		if p.Document == nil {
			continue
		}
		c.policies++
		for i := range p.Document.Statements {
			c.statements = append(c.statements, compileStatement(p.Name, i, &p.Document.Statements[i], sc, p.Document.Version == Version2012))
		}
	}
	for i := range c.statements {
		st := &c.statements[i]
		if !st.effective() {
			continue
		}
		idx := int32(i)
		st.addTo(&c.any, idx)
		for a := range numKnownActions {
			if st.actionMask&(1<<a) != 0 {
				st.addTo(&c.byAction[a], idx)
			}
		}
	}
	return c
}

// effective reports whether the statement can ever decide anything.
func (st *compiledStatement) effective() bool {
	if st.source.Effect != EffectAllow && st.source.Effect != EffectDeny {
		return false
	}
	if st.excluded {
		return false
	}
	if !st.notResource {
		for i := range st.resources {
			if !st.resources[i].none {
				return true
			}
		}
		return false
	}
	return true
}

func (st *compiledStatement) addTo(l *statementLists, idx int32) {
	if st.deny {
		l.deny = append(l.deny, idx)
	} else {
		l.allow = append(l.allow, idx)
	}
}

// compileStatement compiles one statement. vars says whether policy variables are recognized:
// as in IAM, only a document of Version 2012-10-17 has them; in any other, "${...}" is plain text
// in which `*` and `?` are wildcards like anywhere else.
func compileStatement(policy string, index int, s *Statement, sc *scope, vars bool) compiledStatement {
	st := compiledStatement{
		policy: policy,
		index:  index,
		source: s,
		deny:   s.Effect == EffectDeny,
		vars:   vars,
		failed: -1,
	}
	st.evaluateConditions(sc)
	actions := s.Actions
	if len(actions) == 0 && len(s.NotActions) > 0 {
		actions, st.notAction = s.NotActions, true
	}
	for _, a := range actions {
		st.actions = append(st.actions, parseGlob(a, true))
	}
	for i, name := range knownActions {
		if st.actionApplies(name) {
			st.actionMask |= 1 << i
		}
	}
	resources := s.Resources
	if len(resources) == 0 && len(s.NotResources) > 0 {
		resources, st.notResource = s.NotResources, true
	}
	for _, r := range resources {
		st.resources = append(st.resources, compileResource(r, sc, vars))
	}
	return st
}

// evaluateConditions evaluates the statement's Condition for the connection, in document order,
// stopping at the first condition that is false.
func (st *compiledStatement) evaluateConditions(sc *scope) {
	st.conditions = st.source.Conditions
	if st.conditions == nil && hasCondition(st.source.Condition) {
		parsed, err := parseConditionBlock(st.source.Condition, "Condition")
		if err != nil {
			st.condErr = err.Error()
			st.excluded = !st.deny
			return
		}
		st.conditions = parsed
	}
	for i := range st.conditions {
		holds, valid := evalCondition(sc, &st.conditions[i], st.vars)
		if !valid {
			st.failed = i
			st.condErr = whyFalse(sc, &st.conditions[i], st.vars)
			st.excluded = !st.deny
			return
		}
		if !holds {
			st.failed, st.excluded = i, true
			return
		}
	}
}

// hasCondition reports whether a Condition block has any content.
func hasCondition(raw []byte) bool {
	for _, b := range raw {
		switch b {
		case ' ', '\t', '\r', '\n', '{', '}':
		default:
			return !strings.EqualFold(strings.TrimSpace(string(raw)), "null")
		}
	}
	return false
}

// actionApplies reports whether the statement covers action, honouring NotAction.
func (st *compiledStatement) actionApplies(action string) bool {
	s := subject{p: [3]string{action}}
	m := false
	for i := range st.actions {
		if st.actions[i].match(&s) {
			m = true
			break
		}
	}
	return m != st.notAction
}

// resourceApplies reports whether the statement covers the resource, honouring NotResource.
func (st *compiledStatement) resourceApplies(s *subject) bool {
	return (st.matchedResource(s) >= 0) != st.notResource
}

// matchedResource returns the index of the first pattern matching the resource, or -1.
func (st *compiledStatement) matchedResource(s *subject) int {
	for i := range st.resources {
		if st.resources[i].match(s) {
			return i
		}
	}
	return -1
}

// arnFields names the first five ARN fields, for Explain.
var arnFields = [5]string{"prefix", "partition", "service", "region", "account"}

// compileResource compiles one Resource entry for the connection; vars as for compileStatement.
func compileResource(pattern string, sc *scope, vars bool) resourcePattern {
	env := sc.env
	rp := resourcePattern{source: pattern, display: pattern}
	if pattern == "*" {
		rp.all = true
		return rp
	}
	rp.literalVars = !vars && strings.Contains(pattern, "${")
	toks := tokenize(pattern, vars)
	for _, t := range toks {
		if t.kind == tokVariable {
			rp.display, rp.unresolved = resolvedText(toks, sc)
			break
		}
	}

	fields, n := splitARN(toks)
	if n < 6 {
		rp.none, rp.whyNone = true, "it is not a complete ARN (arn:partition:service:region:account:resource)"
		return rp
	}
	want := [5]string{"arn", env.partition(), "iot", env.Region, env.Account}
	for i := range want {
		if !fieldMatches(fields[i], want[i], sc) {
			rp.none = true
			rp.whyNone = fmt.Sprintf("its %s does not match this connection's %q", arnFields[i], want[i])
			return rp
		}
	}
	rp.glob = buildGlob(fields[5], sc)
	rp.all = rp.glob.isStar()
	return rp
}

// resolvedText renders a tokenized pattern with the variables that resolve replaced by their
// values, for Explain. Escapes and unresolved variables are shown as written, so that the text
// does not suggest a wildcard where there is none. It also returns the unresolved names.
func resolvedText(toks []token, sc *scope) (string, []string) {
	var b strings.Builder
	var unresolved []string
	for _, t := range toks {
		switch t.kind {
		case tokText:
			b.WriteString(t.text)
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokVariable:
			v, ok := sc.variable(t.text)
			if !ok {
				unresolved = append(unresolved, t.text)
			}
			if !ok || v == t.text { // unresolved, or ${*}, ${?}, ${$}
				b.WriteString("${")
				b.WriteString(t.text)
				b.WriteByte('}')
			} else {
				b.WriteString(v)
			}
		}
	}
	return b.String(), unresolved
}

// splitARN splits a tokenized ARN pattern into its six fields at the colons of its text (never
// at a colon inside ${...}); the sixth field is the rest, colons included, as in IAM. n is the
// number of fields found. The fields share one backing array.
func splitARN(toks []token) (fields [6][]token, n int) {
	flat := make([]token, 0, len(toks)+5)
	start := 0
	n = 1
	for _, t := range toks {
		if t.kind != tokText || n == 6 {
			flat = append(flat, t)
			continue
		}
		text := t.text
		for n < 6 {
			i := strings.IndexByte(text, ':')
			if i < 0 {
				break
			}
			if i > 0 {
				flat = append(flat, token{kind: tokText, text: text[:i]})
			}
			fields[n-1] = flat[start:len(flat):len(flat)]
			start = len(flat)
			n++
			text = text[i+1:]
		}
		if text != "" {
			flat = append(flat, token{kind: tokText, text: text})
		}
	}
	fields[n-1] = flat[start:]
	return fields, n
}

// fieldMatches matches one of the first five ARN fields of a pattern against this connection's
// value. Plain text, the usual case, is compared directly.
func fieldMatches(toks []token, want string, sc *scope) bool {
	switch {
	case len(toks) == 0:
		return want == ""
	case len(toks) == 1 && toks[0].kind == tokText:
		return toks[0].text == want
	}
	g := buildGlob(toks, sc)
	return g.matchString(want)
}

// buildGlob compiles tokens into a case-sensitive glob. Variables become literal text: their value
// when they resolve, "${name}" when they do not, so nothing substituted is ever a wildcard.
func buildGlob(toks []token, sc *scope) glob {
	b := globBuilder{ops: make([]globOp, 0, len(toks))}
	for _, t := range toks {
		switch t.kind {
		case tokText:
			b.literal(t.text)
		case tokStar:
			b.star()
		case tokOne:
			b.one()
		case tokVariable:
			if v, ok := sc.variable(t.text); ok {
				b.literal(v)
			} else {
				b.literal("${")
				b.literal(t.text)
				b.literal("}")
			}
		}
	}
	return b.build(false)
}

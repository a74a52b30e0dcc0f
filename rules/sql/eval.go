package sql

import (
	"encoding/base64"
	"math"
	"time"

	"github.com/iotcore-local/iotcore-local/internal/devicejson"
)

// Message is what the rules engine knows of one PUBLISH.
type Message struct {
	// Topic is the topic topic() sees: for Basic Ingest, what follows $aws/rules/<rule>/.
	Topic   string
	Payload []byte
	// ClientID is the publisher's MQTT client ID; empty when the message did not come over MQTT
	// (clientid() then answers "n/a", as on AWS).
	ClientID string
	// Principal is the publisher's identity: a certificate ID, or an access key / custom
	// authorizer principal.
	Principal string
	TraceID   string // the message's trace UUID; empty when not MQTT
	SourceIP  string
	Received  time.Time
	// MQTT 5 properties.
	ContentType     string
	PayloadFormat   *byte // nil when absent; 1 = UTF-8
	ResponseTopic   string
	CorrelationData []byte
	UserProperties  [][2]string

	// parsed caches the payload's parsed form, so that every rule evaluating one message
	// parses it once. Values are never modified by evaluation, so rules can share them.
	parsed   Value
	isParsed bool
}

// value returns the parsed payload, parsing it on first use.
func (m *Message) value() Value {
	if !m.isParsed {
		m.parsed, m.isParsed = payloadValue(m.Payload), true
	}
	return m.parsed
}

// Data gives get_thing_shadow and get_registry_data the emulator's own state.
type Data interface {
	// ThingShadow returns the GetThingShadow document of a thing's classic ("") or named shadow.
	ThingShadow(thing, shadow string) ([]byte, error)
	// RegistryData answers get_registry_data: api is "DescribeThing" or
	// "ListThingGroupsForThing"; the answer is the operation's JSON output.
	RegistryData(api, thing string) ([]byte, error)
}

// Options carry what evaluation needs beyond the message.
type Options struct {
	Account string
	Data    Data
	// Now is the rules engine's clock (timestamp()); nil is time.Now.
	Now func() time.Time
}

// Evaluation is the outcome of a statement on one message.
type Evaluation struct {
	// Matched is true when WHERE was true (or absent): the actions run.
	Matched bool
	// Result is the SELECT result; Undefined when not matched.
	Result Value
	ctx    *evalCtx
}

// Payload is the action payload: the result as JSON, or the raw bytes of a non-JSON payload
// forwarded by SELECT *.
func (e *Evaluation) Payload() []byte { return ToJSON(e.Result) }

// Render resolves a substitution template against the original message and the SET
// variables. Undefined parts become "".
func (e *Evaluation) Render(t *Template) string { return t.render(e.ctx) }

type evalCtx struct {
	msg     *Message
	opts    *Options
	version string
	payload Value // *Object for a JSON object payload, else []byte
	row     Value // what bare attribute names read
	vars    map[string]Value
	now     time.Time
}

// newCtx prepares evaluation of a message.
func newCtx(msg *Message, opts *Options, version string) *evalCtx {
	if opts == nil {
		opts = &Options{}
	}
	c := &evalCtx{msg: msg, opts: opts, version: version}
	c.payload = msg.value()
	c.row = c.payload
	if opts.Now != nil {
		c.now = opts.Now()
	} else {
		c.now = time.Now()
	}
	return c
}

// payloadValue parses a payload: a JSON object (trailing NUL bytes and whitespace tolerated,
// as sloppy devices send them: internal/devicejson) is addressable, anything else stays raw bytes.
func payloadValue(b []byte) Value {
	t := devicejson.TrimTrailing(b)
	i := 0
	for i < len(t) && (t[i] == ' ' || t[i] == '\n' || t[i] == '\r' || t[i] == '\t') {
		i++
	}
	if i < len(t) && t[i] == '{' {
		if v, err := ParseJSON(t); err == nil {
			return v
		}
	}
	return b
}

// Evaluate runs the statement on a message: SET, WHERE, then SELECT.
func (s *Statement) Evaluate(msg *Message, opts *Options) *Evaluation {
	c := newCtx(msg, opts, s.version)
	for _, sv := range s.sets {
		v := c.eval(sv.x)
		if c.vars == nil {
			c.vars = map[string]Value{}
		}
		c.vars[sv.name] = v
	}
	ev := &Evaluation{Result: undef, ctx: c}
	ev.Matched = c.matches(s.q.where)
	if ev.Matched {
		ev.Result = c.project(s.q)
	}
	return ev
}

// matches is WHERE: only Boolean true (or the strings true/false converted) lets a message in.
func (c *evalCtx) matches(where expr) bool {
	if where == nil {
		return true
	}
	b, ok := toBool(c.eval(where))
	return ok && b
}

// project evaluates a SELECT list against the current row.
func (c *evalCtx) project(q *query) Value {
	if q.value {
		return c.eval(q.items[0].x)
	}
	if len(q.items) == 1 && q.items[0].star {
		return c.row
	}
	out := NewObject()
	for _, it := range q.items {
		if it.star {
			if o, ok := c.row.(*Object); ok {
				for _, k := range o.keys {
					out.Set(k, o.vals[k])
				}
			}
			continue
		}
		out.Set(it.alias, c.eval(it.x))
	}
	return out
}

func (c *evalCtx) num(v Value) Value { return normalize(v, c.version) }

func (c *evalCtx) eval(x expr) Value {
	switch e := x.(type) {
	case *literal:
		return c.num(e.v)
	case *wildcard:
		return c.row
	case *attr:
		if o, ok := c.row.(*Object); ok {
			return c.num(o.Get(e.name))
		}
		return undef
	case *variable:
		if v, ok := c.vars[e.name]; ok {
			return v
		}
		return undef
	case *member:
		if o, ok := c.eval(e.x).(*Object); ok {
			return c.num(o.Get(e.name))
		}
		return undef
	case *index:
		return getItem(c.eval(e.x), c.eval(e.i))
	case *unary:
		return c.unary(e.op, c.eval(e.x))
	case *binary:
		return c.binary(e.op, c.eval(e.l), c.eval(e.r))
	case *call:
		args := make([]Value, len(e.args))
		for i, a := range e.args {
			if _, star := a.(*wildcard); star && e.fn.rawStar {
				args[i] = rawPayload{c.msg.Payload}
				continue
			}
			args[i] = c.eval(a)
		}
		return c.num(e.fn.fn(c, args))
	case *castExpr:
		return castTo(c.eval(e.x), e.typ)
	case *caseExpr:
		if e.x == nil {
			for _, w := range e.whens {
				if b, ok := toBool(c.eval(w.match)); ok && b {
					return c.eval(w.result)
				}
			}
		} else {
			v := c.eval(e.x)
			if IsUndefined(v) {
				return undef
			}
			for _, w := range e.whens {
				if b, ok := equal(v, c.eval(w.match)).(bool); ok && b {
					return c.eval(w.result)
				}
			}
		}
		if e.els != nil {
			return c.eval(e.els)
		}
		return undef
	case *objectLit:
		o := NewObject()
		for i, k := range e.keys {
			o.Set(k, c.eval(e.vals[i]))
		}
		return o
	case *arrayLit:
		a := make([]any, 0, len(e.items))
		for _, it := range e.items {
			if v := c.eval(it); !IsUndefined(v) {
				a = append(a, v)
			}
		}
		return a
	case *subquery:
		return c.subquery(e.q)
	}
	return undef
}

// subquery runs a nested SELECT over each element of an array attribute.
func (c *evalCtx) subquery(q *query) Value {
	arr, ok := c.eval(q.src).([]any)
	if !ok {
		return undef
	}
	out := []any{}
	saved := c.row
	defer func() { c.row = saved }()
	for _, el := range arr {
		c.row = el
		if !c.matches(q.where) {
			continue
		}
		if v := c.project(q); !IsUndefined(v) {
			out = append(out, v)
		}
	}
	return out
}

// rawPayload is * passed to a function that works on the payload's bytes (encode).
type rawPayload struct{ b []byte }

func (c *evalCtx) unary(op string, v Value) Value {
	switch op {
	case "NOT":
		if b, ok := toBool(v); ok {
			return !b
		}
		return undef
	case "-":
		switch x := v.(type) {
		case int64:
			return -x
		case float64:
			return -x
		case string:
			if f, ok := toDecimal(x); ok {
				return c.num(-f)
			}
		}
	}
	return undef
}

func (c *evalCtx) binary(op string, l, r Value) Value {
	switch op {
	case "AND", "OR":
		lb, lok := toBool(l)
		rb, rok := toBool(r)
		if !lok || !rok {
			return undef
		}
		if op == "AND" {
			return lb && rb
		}
		return lb || rb
	case "=":
		return equal(l, r)
	case "<>":
		if IsUndefined(l) || IsUndefined(r) {
			return undef
		}
		if l == nil && r == nil {
			return false
		}
		return !sameValue(l, r)
	case "<", "<=", ">", ">=":
		lf, lok := toDecimal(l)
		rf, rok := toDecimal(r)
		if !lok || !rok {
			return undef
		}
		switch op {
		case "<":
			return lf < rf
		case "<=":
			return lf <= rf
		case ">":
			return lf > rf
		}
		return lf >= rf
	case "+":
		_, ls := l.(string)
		_, rs := r.(string)
		if ls || rs {
			a, aok := toString(l)
			b, bok := toString(r)
			if !aok || !bok {
				return undef
			}
			return a + b
		}
	}
	return c.arith(op, l, r)
}

// arith is + - * / % on numbers: Int with Int stays Int (so / truncates), anything else that
// converts is Decimal.
func (c *evalCtx) arith(op string, l, r Value) Value {
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case "+":
			return li + ri
		case "-":
			return li - ri
		case "*":
			return li * ri
		case "/":
			if ri == 0 {
				return undef
			}
			return li / ri
		case "%":
			if ri == 0 {
				return undef
			}
			return li % ri
		}
	}
	if !numOrNumericString(l) || !numOrNumericString(r) {
		return undef
	}
	lf, lok := toDecimal(l)
	rf, rok := toDecimal(r)
	if !lok || !rok {
		return undef
	}
	var f float64
	switch op {
	case "+":
		f = lf + rf
	case "-":
		f = lf - rf
	case "*":
		f = lf * rf
	case "/":
		if rf == 0 {
			return undef
		}
		f = lf / rf
	case "%":
		if rf == 0 {
			return undef
		}
		f = math.Mod(lf, rf)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return undef
	}
	return c.num(f)
}

func numOrNumericString(v Value) bool {
	switch v.(type) {
	case int64, float64, string:
		return true
	}
	return false
}

// getItem is get(coll, key) and coll[key]: arrays and strings by 0-based index, objects by key.
func getItem(coll, key Value) Value {
	switch x := coll.(type) {
	case []any:
		i, ok := toInt(key)
		if !ok || i < 0 || i >= int64(len(x)) {
			return undef
		}
		return x[i]
	case string:
		i, ok := toInt(key)
		r := []rune(x)
		if !ok || i < 0 || i >= int64(len(r)) {
			return undef
		}
		return string(r[i])
	case *Object:
		k, ok := toString(key)
		if !ok {
			return undef
		}
		return x.Get(k)
	}
	return undef
}

// castTo is cast(v AS typ): the implicit conversions, plus numbers↔booleans.
func castTo(v Value, typ string) Value {
	if IsUndefined(v) {
		return undef
	}
	switch typ {
	case "string":
		if s, ok := toString(v); ok {
			return s
		}
	case "int":
		switch x := v.(type) {
		case bool:
			if x {
				return int64(1)
			}
			return int64(0)
		case float64:
			return int64(math.Floor(x))
		case nil:
			return nil
		}
		if i, ok := toInt(v); ok {
			return i
		}
	case "decimal":
		switch x := v.(type) {
		case bool:
			if x {
				return 1.0
			}
			return 0.0
		case nil:
			return nil
		}
		if f, ok := toDecimal(v); ok {
			return f
		}
	case "bool":
		switch x := v.(type) {
		case int64:
			return x != 0
		case float64:
			return x != 0
		}
		if b, ok := toBool(v); ok {
			return b
		}
	}
	return undef
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

package sql

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// function is one SQL function.
type function struct {
	min, max int  // argument counts; max -1 = any
	v2016    bool // needs awsIotSqlVersion 2016-03-23
	served   bool
	why      string // why an unserved function is not served
	rawStar  bool   // * as an argument means the payload's bytes
	fn       func(c *evalCtx, args []Value) Value
}

func (f *function) arity() string {
	switch {
	case f.max < 0:
		return fmt.Sprintf("at least %d arguments", f.min)
	case f.min == f.max:
		return fmt.Sprintf("%d arguments", f.min)
	}
	return fmt.Sprintf("%d to %d arguments", f.min, f.max)
}

// functions lists every function of AWS's SQL reference, served or not.
var functions = map[string]*function{}

func def(name string, min, max int, fn func(c *evalCtx, a []Value) Value) *function {
	f := &function{min: min, max: max, served: true, fn: fn}
	functions[name] = f
	return f
}

func unserved(name, why string) {
	functions[name] = &function{min: 0, max: -1, why: why}
}

// Served lists the functions iotcore-local evaluates; Unserved the ones it refuses at create,
// with the reason.
func Served() []string {
	var out []string
	for n, f := range functions {
		if f.served {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Unserved maps each refused function to the reason.
func Unserved() map[string]string {
	out := map[string]string{}
	for n, f := range functions {
		if !f.served {
			out[n] = f.why
		}
	}
	return out
}

// math1 defines a one-argument numeric function returning a Decimal.
func math1(name string, g func(float64) float64) {
	def(name, 1, 1, func(c *evalCtx, a []Value) Value {
		f, ok := toDecimal(a[0])
		if !ok {
			return undef
		}
		r := g(f)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return undef
		}
		return r
	})
}

func intArgs(a []Value) ([]int64, bool) {
	out := make([]int64, len(a))
	for i, v := range a {
		n, ok := toInt(v)
		if !ok {
			return nil, false
		}
		out[i] = n
	}
	return out, true
}

func strArg(v Value) (string, bool) {
	switch v.(type) {
	case nil, Undefined:
		return "", false
	}
	return toString(v)
}

func init() {
	// Math.
	def("abs", 1, 1, func(c *evalCtx, a []Value) Value {
		switch x := a[0].(type) {
		case int64:
			if x < 0 {
				return -x
			}
			return x
		}
		if f, ok := toDecimal(a[0]); ok {
			return math.Abs(f)
		}
		return undef
	})
	math1("acos", math.Acos)
	math1("asin", math.Asin)
	math1("atan", math.Atan)
	math1("cos", math.Cos)
	math1("cosh", math.Cosh)
	math1("exp", math.Exp)
	math1("ln", func(f float64) float64 {
		if f <= 0 {
			return math.NaN()
		}
		return math.Log(f)
	})
	math1("log", func(f float64) float64 {
		if f <= 0 {
			return math.NaN()
		}
		return math.Log10(f)
	})
	math1("sin", math.Sin)
	math1("sinh", math.Sinh)
	math1("sqrt", math.Sqrt)
	math1("tan", math.Tan)
	math1("tanh", math.Tanh)
	def("atan2", 2, 2, func(c *evalCtx, a []Value) Value {
		y, ok1 := toDecimal(a[0])
		x, ok2 := toDecimal(a[1])
		if !ok1 || !ok2 {
			return undef
		}
		return math.Atan2(y, x)
	})
	def("power", 2, 2, func(c *evalCtx, a []Value) Value {
		b, ok1 := toDecimal(a[0])
		e, ok2 := toDecimal(a[1])
		if !ok1 || !ok2 {
			return undef
		}
		r := math.Pow(b, e)
		if math.IsNaN(r) || math.IsInf(r, 0) {
			return undef
		}
		_, bi := a[0].(int64)
		_, ei := a[1].(int64)
		if bi && ei && e >= 0 && math.Abs(r) < 9e18 {
			return int64(r)
		}
		return r
	})
	rounder := func(g func(float64) float64) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			if i, ok := a[0].(int64); ok {
				return i
			}
			f, ok := toDecimal(a[0])
			if !ok {
				return undef
			}
			return int64(g(f))
		}
	}
	def("ceil", 1, 1, rounder(math.Ceil))
	def("floor", 1, 1, rounder(math.Floor))
	def("round", 1, 1, rounder(math.Round)) // halves away from zero, as AWS's examples show
	def("sign", 1, 1, func(c *evalCtx, a []Value) Value {
		f, ok := toDecimal(a[0])
		if !ok {
			return undef
		}
		switch {
		case f > 0:
			return int64(1)
		case f < 0:
			return int64(-1)
		}
		return int64(0)
	})
	modFn := func(c *evalCtx, a []Value) Value { return c.arith("%", a[0], a[1]) }
	def("mod", 2, 2, modFn)
	def("remainder", 2, 2, modFn)
	def("trunc", 2, 2, func(c *evalCtx, a []Value) Value {
		f, ok := toDecimal(a[0])
		n, ok2 := toInt(a[1])
		if !ok || !ok2 {
			return undef
		}
		n = max(0, min(n, 34))
		if i, isInt := a[0].(int64); isInt {
			return i
		}
		p := math.Pow(10, float64(n))
		return math.Trunc(f*p) / p
	})
	bit := func(g func(x, y int64) int64) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			n, ok := intArgs(a)
			if !ok {
				return undef
			}
			return g(n[0], n[1])
		}
	}
	def("bitand", 2, 2, bit(func(x, y int64) int64 { return x & y }))
	def("bitor", 2, 2, bit(func(x, y int64) int64 { return x | y }))
	def("bitxor", 2, 2, bit(func(x, y int64) int64 { return x ^ y }))
	def("bitnot", 1, 1, func(c *evalCtx, a []Value) Value {
		n, ok := toInt(a[0])
		if !ok {
			return undef
		}
		return ^n
	})
	def("nanvl", 2, 2, func(c *evalCtx, a []Value) Value {
		switch x := a[0].(type) {
		case Undefined, nil:
			return a[1]
		case float64:
			if math.IsNaN(x) {
				return a[1]
			}
		}
		return a[0]
	})
	def("rand", 0, 0, func(c *evalCtx, a []Value) Value { return rand.Float64() })

	// Strings.
	def("chr", 1, 1, func(c *evalCtx, a []Value) Value {
		n, ok := toInt(a[0])
		if !ok || n < 0 || n > 127 {
			return undef
		}
		return string(rune(n))
	})
	def("concat", 0, -1, func(c *evalCtx, a []Value) Value {
		switch len(a) {
		case 0:
			return undef
		case 1:
			return a[0]
		}
		hasArray := false
		for _, v := range a {
			if _, ok := v.([]any); ok {
				hasArray = true
			}
		}
		if hasArray {
			out := []any{}
			for _, v := range a {
				if arr, ok := v.([]any); ok {
					out = append(out, arr...)
				} else if !IsUndefined(v) {
					out = append(out, v)
				}
			}
			return out
		}
		var sb strings.Builder
		for _, v := range a {
			s, ok := strArg(v)
			if !ok {
				return undef
			}
			sb.WriteString(s)
		}
		return sb.String()
	})
	str2 := func(g func(s, t string) Value) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			s, ok1 := strArg(a[0])
			t, ok2 := strArg(a[1])
			if !ok1 || !ok2 {
				return undef
			}
			return g(s, t)
		}
	}
	def("endswith", 2, 2, str2(func(s, t string) Value { return strings.HasSuffix(s, t) }))
	def("startswith", 2, 2, str2(func(s, t string) Value { return strings.HasPrefix(s, t) }))
	def("indexof", 2, 2, func(c *evalCtx, a []Value) Value {
		s, ok1 := a[0].(string)
		t, ok2 := a[1].(string)
		if !ok1 || !ok2 {
			return undef
		}
		i := strings.Index(s, t)
		if i < 0 {
			return int64(-1)
		}
		return int64(utf8.RuneCountInString(s[:i]))
	}).v2016 = true
	def("length", 1, 1, func(c *evalCtx, a []Value) Value {
		s, ok := strArg(a[0])
		if !ok {
			return undef
		}
		return int64(utf8.RuneCountInString(s))
	}).v2016 = true
	def("numbytes", 1, 1, func(c *evalCtx, a []Value) Value {
		s, ok := strArg(a[0])
		if !ok {
			return undef
		}
		return int64(len(s))
	}).v2016 = true
	str1 := func(g func(string) string) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			s, ok := strArg(a[0])
			if !ok {
				return undef
			}
			return g(s)
		}
	}
	def("lower", 1, 1, str1(strings.ToLower))
	def("upper", 1, 1, str1(strings.ToUpper))
	ws := " \t"
	def("ltrim", 1, 1, str1(func(s string) string { return strings.TrimLeft(s, ws) }))
	def("rtrim", 1, 1, str1(func(s string) string { return strings.TrimRight(s, ws) }))
	def("trim", 1, 1, str1(func(s string) string { return strings.Trim(s, ws) }))
	pad := func(left bool) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			s, ok := strArg(a[0])
			n, ok2 := toInt(a[1])
			if !ok || !ok2 {
				return undef
			}
			n = max(0, min(n, 1000))
			if left {
				return strings.Repeat(" ", int(n)) + s
			}
			return s + strings.Repeat(" ", int(n))
		}
	}
	def("lpad", 2, 2, pad(true))
	def("rpad", 2, 2, pad(false))
	def("replace", 3, 3, func(c *evalCtx, a []Value) Value {
		s, ok1 := strArg(a[0])
		o, ok2 := strArg(a[1])
		n, ok3 := strArg(a[2])
		if !ok1 || !ok2 || !ok3 {
			return undef
		}
		return strings.ReplaceAll(s, o, n)
	})
	def("regexp_matches", 2, 2, str2(func(s, re string) Value {
		r, err := compileRegexp(re)
		if err != nil {
			return undef
		}
		return r.MatchString(s)
	}))
	def("regexp_replace", 3, 3, func(c *evalCtx, a []Value) Value {
		s, ok1 := strArg(a[0])
		re, ok2 := strArg(a[1])
		rep, ok3 := strArg(a[2])
		if !ok1 || !ok2 || !ok3 {
			return undef
		}
		r, err := compileRegexp(re)
		if err != nil {
			return undef
		}
		return r.ReplaceAllString(s, rep)
	})
	def("regexp_substr", 2, 2, str2(func(s, re string) Value {
		r, err := compileRegexp(re)
		if err != nil {
			return undef
		}
		return r.FindString(s)
	}))
	def("substring", 2, 3, func(c *evalCtx, a []Value) Value {
		s, ok := strArg(a[0])
		i, ok2 := toInt(a[1])
		if !ok || !ok2 {
			return undef
		}
		r := []rune(s)
		j := int64(len(r))
		if len(a) == 3 {
			var ok3 bool
			if j, ok3 = toInt(a[2]); !ok3 {
				return undef
			}
		}
		i = max(0, min(i, int64(len(r))))
		j = max(0, min(j, int64(len(r))))
		if i >= j {
			return ""
		}
		return string(r[i:j])
	})

	// Hashing.
	hashFn := func(h func() hash.Hash) func(c *evalCtx, a []Value) Value {
		return func(c *evalCtx, a []Value) Value {
			s, ok := strArg(a[0])
			if !ok {
				return undef
			}
			d := h()
			d.Write([]byte(s))
			return hex.EncodeToString(d.Sum(nil))
		}
	}
	def("md5", 1, 1, hashFn(md5.New))
	def("sha1", 1, 1, hashFn(sha1.New))
	def("sha224", 1, 1, hashFn(sha256.New224))
	def("sha256", 1, 1, hashFn(sha256.New))
	def("sha384", 1, 1, hashFn(sha512.New384))
	def("sha512", 1, 1, hashFn(sha512.New))
	unserved("md2", "Go's standard library has no MD2; use md5 or a sha function")

	// Encoding.
	enc := def("encode", 2, 2, func(c *evalCtx, a []Value) Value {
		if m, _ := a[1].(string); strings.ToLower(m) != "base64" {
			return undef
		}
		switch x := a[0].(type) {
		case rawPayload:
			return b64(x.b)
		case nil, Undefined:
			return undef
		}
		s, ok := toString(a[0])
		if !ok {
			return undef
		}
		return b64([]byte(s))
	})
	enc.v2016, enc.rawStar = true, true
	def("decode", 2, 2, func(c *evalCtx, a []Value) Value {
		if m, _ := a[1].(string); strings.ToLower(m) != "base64" {
			return undef
		}
		s, ok := a[0].(string)
		if !ok {
			return undef
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(s); err != nil {
				return nil // undecodable: Null, as AWS documents
			}
		}
		if v, err := ParseJSON(b); err == nil {
			return v
		}
		return string(b)
	}).v2016 = true

	// Collections.
	def("get", 2, 2, func(c *evalCtx, a []Value) Value { return getItem(a[0], a[1]) })
	def("isnull", 1, 1, func(c *evalCtx, a []Value) Value { return a[0] == nil })
	def("isundefined", 1, 1, func(c *evalCtx, a []Value) Value { return IsUndefined(a[0]) }).v2016 = true
	def("transform", 3, 3, func(c *evalCtx, a []Value) Value {
		mode, _ := a[0].(string)
		obj, ok1 := a[1].(*Object)
		arr, ok2 := a[2].([]any)
		if mode != "enrichArray" || !ok1 || !ok2 {
			return undef
		}
		out := make([]any, 0, len(arr))
		for _, el := range arr {
			eo, ok := el.(*Object)
			if !ok {
				continue
			}
			n := NewObject()
			for _, k := range eo.keys {
				n.Set(k, eo.vals[k])
			}
			for _, k := range obj.keys {
				n.Set(k, obj.vals[k])
			}
			out = append(out, n)
		}
		return out
	}).v2016 = true

	// Message context.
	def("newuuid", 0, 0, func(c *evalCtx, a []Value) Value { return uuid.NewString() })
	def("timestamp", 0, 0, func(c *evalCtx, a []Value) Value { return c.now.UnixMilli() })
	def("topic", 0, 1, func(c *evalCtx, a []Value) Value {
		if len(a) == 0 {
			return c.msg.Topic
		}
		n, ok := toInt(a[0])
		levels := strings.Split(c.msg.Topic, "/")
		if !ok || n < 1 || n > int64(len(levels)) {
			return undef
		}
		return levels[n-1]
	})
	def("clientid", 0, 0, func(c *evalCtx, a []Value) Value {
		if c.msg.ClientID == "" {
			return "n/a"
		}
		return c.msg.ClientID
	})
	def("principal", 0, 0, func(c *evalCtx, a []Value) Value {
		if c.msg.Principal == "" {
			return undef
		}
		return c.msg.Principal
	})
	def("traceid", 0, 0, func(c *evalCtx, a []Value) Value {
		if c.msg.TraceID == "" {
			return undef
		}
		return c.msg.TraceID
	})
	def("sourceip", 0, 0, func(c *evalCtx, a []Value) Value {
		if c.msg.SourceIP == "" {
			return undef
		}
		return c.msg.SourceIP
	})
	def("accountid", 0, 0, func(c *evalCtx, a []Value) Value {
		if c.opts.Account == "" {
			return "123456789012"
		}
		return c.opts.Account
	})
	def("sql_version", 0, 0, func(c *evalCtx, a []Value) Value { return c.version })
	def("get_mqtt_property", 1, 1, func(c *evalCtx, a []Value) Value {
		name, _ := a[0].(string)
		m := c.msg
		switch strings.ToLower(name) {
		case "content_type":
			if m.ContentType != "" {
				return m.ContentType
			}
		case "format_indicator":
			if m.PayloadFormat != nil {
				if *m.PayloadFormat == 1 {
					return "UTF8_DATA"
				}
				return "UNSPECIFIED_BYTES"
			}
		case "response_topic":
			if m.ResponseTopic != "" {
				return m.ResponseTopic
			}
		case "correlation_data":
			if m.CorrelationData != nil {
				return b64(m.CorrelationData)
			}
		}
		return undef
	})
	def("get_user_properties", 0, 1, func(c *evalCtx, a []Value) Value {
		if len(a) == 0 {
			out := []any{}
			for _, p := range c.msg.UserProperties {
				o := NewObject()
				o.Set(p[0], p[1])
				out = append(out, o)
			}
			return out
		}
		key, ok := strArg(a[0])
		if !ok {
			return undef
		}
		out := []any{}
		for _, p := range c.msg.UserProperties {
			if p[0] == key {
				out = append(out, p[1])
			}
		}
		if len(out) == 0 {
			return undef
		}
		return out
	})
	def("parse_time", 2, 3, parseTime).v2016 = true
	def("time_to_epoch", 2, 2, timeToEpoch).v2016 = true

	// Our own data.
	def("get_thing_shadow", 2, 3, func(c *evalCtx, a []Value) Value {
		thing, ok := a[0].(string)
		if !ok || c.opts.Data == nil {
			return undef
		}
		name := ""
		if len(a) == 3 {
			if name, ok = a[1].(string); !ok {
				return undef
			}
		}
		doc, err := c.opts.Data.ThingShadow(thing, name)
		if err != nil {
			return undef
		}
		v, err := ParseJSON(doc)
		if err != nil {
			return undef
		}
		return v
	}).v2016 = true
	def("get_registry_data", 2, 3, func(c *evalCtx, a []Value) Value {
		op, ok1 := a[0].(string)
		thing, ok2 := a[1].(string)
		if !ok1 || !ok2 || c.opts.Data == nil {
			return undef
		}
		doc, err := c.opts.Data.RegistryData(op, thing)
		if err != nil {
			return undef
		}
		v, err := ParseJSON(doc)
		if err != nil {
			return undef
		}
		return v
	})

	unserved("get_dynamodb", "it reads an Amazon DynamoDB table through the rules engine's role; read the table in an action's target instead")
	unserved("get_secret", "it reads AWS Secrets Manager")
	unserved("aws_lambda", "it calls a Lambda function synchronously during evaluation; use the lambda action")
	unserved("machinelearning_predict", "Amazon Machine Learning is retired")
}

func compileRegexp(re string) (*regexp.Regexp, error) {
	if len(re) > 1024 {
		return nil, fmt.Errorf("pattern too long")
	}
	return regexp.Compile(re)
}

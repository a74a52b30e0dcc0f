package sql

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Values of AWS IoT SQL are Go values of these types:
//
//	Undefined          the absence of a value (Undefined{})
//	nil                Null
//	int64              Int
//	float64            Decimal (double precision here; AWS keeps 34 digits)
//	bool               Boolean
//	string             String
//	[]any              Array
//	*Object            Object (keeps member order, as the SELECT list and payloads have it)
//	[]byte             a non-JSON payload, reached through * only
type Value = any

// Undefined is AWS's "no value": an object member that is Undefined is left out, and most
// operators and functions given one answer Undefined.
type Undefined struct{}

// undef is the one Undefined value.
var undef Value = Undefined{}

// IsUndefined reports whether v is Undefined.
func IsUndefined(v Value) bool { _, ok := v.(Undefined); return ok }

// Object is a JSON object that remembers the order of its members.
type Object struct {
	keys []string
	vals map[string]Value
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{vals: map[string]Value{}} }

// Set adds or replaces a member; an Undefined value removes it.
func (o *Object) Set(k string, v Value) {
	if IsUndefined(v) {
		o.Delete(k)
		return
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// Delete removes a member.
func (o *Object) Delete(k string) {
	if _, ok := o.vals[k]; !ok {
		return
	}
	delete(o.vals, k)
	for i, x := range o.keys {
		if x == k {
			o.keys = append(o.keys[:i:i], o.keys[i+1:]...)
			break
		}
	}
}

// Get returns a member, or Undefined.
func (o *Object) Get(k string) Value {
	if v, ok := o.vals[k]; ok {
		return v
	}
	return undef
}

// Keys returns the member names in order.
func (o *Object) Keys() []string { return o.keys }

// Len is the number of members.
func (o *Object) Len() int { return len(o.keys) }

// MarshalJSON writes the members in order.
func (o *Object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	writeJSON(&b, o)
	return b.Bytes(), nil
}

// ParseJSON decodes a JSON document into SQL values, keeping member order. Numbers without a
// fraction or exponent that fit 64 bits are Int, others Decimal.
func ParseJSON(data []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("data after the JSON value")
	}
	return v, nil
}

// maxJSONDepth bounds the nesting of a payload the engine parses (encoding/json's own limit is
// 10 000; rules never need that much, and the recursion stays shallow).
const maxJSONDepth = 1000

func decodeValue(dec *json.Decoder, depth int) (Value, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested more than %d levels", maxJSONDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	return fromToken(dec, tok, depth)
}

func fromToken(dec *json.Decoder, tok json.Token, depth int) (Value, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.Set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return parseNumber(string(t))
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

// parseNumber turns JSON number text into Int or Decimal.
func parseNumber(s string) (Value, error) {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil && !isRangeErr(err) {
		return nil, fmt.Errorf("number %q: %w", s, err)
	}
	return f, nil
}

func isRangeErr(err error) bool {
	var ne *strconv.NumError
	if e, ok := err.(*strconv.NumError); ok {
		ne = e
	}
	return ne != nil && ne.Err == strconv.ErrRange
}

// ToJSON encodes a value as JSON. Undefined encodes as nothing (an empty result) and a raw
// payload as its bytes, unchanged.
func ToJSON(v Value) []byte {
	switch x := v.(type) {
	case Undefined:
		return nil
	case []byte:
		return x
	}
	var b bytes.Buffer
	writeJSON(&b, v)
	return b.Bytes()
}

func writeJSON(b *bytes.Buffer, v Value) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case Undefined:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(formatDecimal(x))
	case string:
		enc, _ := json.Marshal(x)
		b.Write(enc)
	case []byte:
		enc, _ := json.Marshal(string(x))
		b.Write(enc)
	case []any:
		b.WriteByte('[')
		n := 0
		for _, e := range x {
			if IsUndefined(e) {
				continue
			}
			if n > 0 {
				b.WriteByte(',')
			}
			writeJSON(b, e)
			n++
		}
		b.WriteByte(']')
	case *Object:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			enc, _ := json.Marshal(k)
			b.Write(enc)
			b.WriteByte(':')
			writeJSON(b, x.vals[k])
		}
		b.WriteByte('}')
	default:
		enc, _ := json.Marshal(x)
		b.Write(enc)
	}
}

// formatDecimal writes a Decimal so that it reads back as one: whole values keep ".0".
// NaN and infinities have no JSON form and become null.
func formatDecimal(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "null"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if strings.ContainsAny(s, "e") {
		if !strings.Contains(s, ".") && math.Abs(f) < 1e21 {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		} else {
			return s
		}
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// TypeName names a value's SQL type, for messages.
func TypeName(v Value) string {
	switch v.(type) {
	case Undefined:
		return "Undefined"
	case nil:
		return "Null"
	case int64:
		return "Int"
	case float64:
		return "Decimal"
	case bool:
		return "Boolean"
	case string:
		return "String"
	case []any:
		return "Array"
	case *Object:
		return "Object"
	case []byte:
		return "Binary"
	}
	return fmt.Sprintf("%T", v)
}

package shadow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Shadow documents are held as the generic values that encoding/json produces with UseNumber:
// map[string]any, []any, string, json.Number, bool and nil (JSON null). Numbers stay json.Number
// so their original text (1.50, 12345678901234567890) is written back unchanged.
//
// The package writes JSON with its own small encoder rather than encoding/json because it needs
// three things at once: object keys sorted (deterministic output that tests compare byte for byte),
// no HTML escaping of <, > and & (AWS does not escape them), and envelopes whose keys follow the
// order of AWS's examples (state, metadata, version, timestamp, clientToken).

// member is one key of an envelope object.
type member struct {
	key string
	val any
}

// obj is an object written with its members in the given order.
type obj []member

// rawJSON is already-encoded JSON, written as is.
type rawJSON []byte

// errTrailingData reports bytes after the first JSON value.
var errTrailingData = errors.New("data after the JSON value")

// decodeJSON parses exactly one JSON value, keeping numbers as json.Number. Duplicate object keys
// keep the last value, as most JSON parsers (and AWS's) do.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailingData
	}
	return v, nil
}

// encodeJSON returns the compact JSON text of v.
func encodeJSON(v any) []byte { return appendJSON(make([]byte, 0, 256), v) }

// appendJSON appends the compact JSON text of v to b. v must be built from the types listed at
// the top of this file, int64, int, obj or rawJSON; anything else is a bug of this package.
func appendJSON(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case json.Number:
		return append(b, x...)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case rawJSON:
		return append(b, x...)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendJSON(b, x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case obj:
		b = append(b, '{')
		for i, m := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, m.key)
			b = append(b, ':')
			b = appendJSON(b, m.val)
		}
		return append(b, '}')
	default:
		panic(fmt.Sprintf("shadow: cannot encode %T as JSON", v))
	}
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Only what JSON requires is escaped: the quote, the
// backslash and control characters. Invalid UTF-8 (never produced by decodeJSON) becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package sql

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The implicit conversions of AWS IoT SQL's data-types table. Each answers Undefined (ok false)
// where the table does.

var decimalText = regexp.MustCompile(`^-?\d+(\.\d+)?([eE]-?\d+)?$`)

// toDecimal converts to Decimal: numbers as they are, strings matching AWS's number pattern.
// ok is false for Undefined results; isNull reports a Null input (which converts to Null).
func toDecimal(v Value) (f float64, ok bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		s := strings.TrimSpace(x)
		if !decimalText.MatchString(s) {
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

// toInt converts to Int: Decimals rounded to nearest, strings parsed as Decimal then truncated.
func toInt(v Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		return int64(math.Round(x)), true
	case string:
		f, ok := toDecimal(x)
		if !ok {
			return 0, false
		}
		if i, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return i, true
		}
		return int64(math.Trunc(f)), true
	}
	return 0, false
}

// toBool converts to Boolean: booleans, and the strings "true"/"false" in any case.
func toBool(v Value) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(x) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// toString converts to String: numbers in decimal notation, booleans as "true"/"false",
// arrays and objects as their JSON text; Null and Undefined do not convert.
func toString(v Value) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return formatDecimal(x), true
	case bool:
		return strconv.FormatBool(x), true
	case []any, *Object:
		return string(ToJSON(x)), true
	case []byte:
		return string(x), true
	}
	return "", false
}

// numeric reports whether v is Int or Decimal.
func numeric(v Value) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

// normalize applies SQL version 2016-03-23's rule that whole-number Decimals are Ints.
func normalize(v Value, version string) Value {
	if version == Version20151008 {
		return v
	}
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 9.2e18 {
		return int64(f)
	}
	return v
}

// equal is SQL "=": Undefined on either side is Undefined; numbers compare by value; strings,
// booleans, arrays (same items in order) and objects (same members) by content; mismatched
// types are false.
func equal(a, b Value) Value {
	if IsUndefined(a) || IsUndefined(b) {
		return undef
	}
	return sameValue(a, b)
}

func sameValue(a, b Value) bool {
	if numeric(a) && numeric(b) {
		ai, aInt := a.(int64)
		bi, bInt := b.(int64)
		if aInt && bInt {
			return ai == bi
		}
		af, _ := toDecimal(a)
		bf, _ := toDecimal(b)
		return af == bf
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Object:
		y, ok := b.(*Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.keys {
			yv, ok := y.vals[k]
			if !ok || !sameValue(x.vals[k], yv) {
				return false
			}
		}
		return true
	case []byte:
		y, ok := b.([]byte)
		return ok && string(x) == string(y)
	}
	return false
}

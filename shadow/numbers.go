package shadow

import (
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
)

// numbersEqual reports whether two JSON number texts denote the same value, so that a desired 1
// and a reported 1.0 (or 1e0, or 100 and 1E2) produce no delta. Greengrass's shadow manager, AWS's
// own reimplementation, compares numbers by value the same way. The comparison is exact on the
// decimal value (no rounding through float64), and cheap for huge exponents.
func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			return x == y
		}
	}
	na, oka := normalizeNumber(string(a))
	nb, okb := normalizeNumber(string(b))
	if !oka || !okb {
		return false
	}
	return na.neg == nb.neg && na.digits == nb.digits && na.exp.Cmp(nb.exp) == 0
}

// decimal is a number as ±0.digits... × 10^exp with no leading or trailing zero in digits;
// zero has empty digits, no sign and exponent 0.
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int
}

// normalizeNumber parses JSON number text (sign, integer part, optional fraction, optional
// exponent) into its canonical decimal form. ok is false for text that is not a JSON number.
func normalizeNumber(s string) (d decimal, ok bool) {
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	mant, expText := s, "0"
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant, expText = s[:i], strings.TrimPrefix(s[i+1:], "+")
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return decimal{}, false
	}
	exp, good := new(big.Int).SetString(expText, 10)
	if !good {
		return decimal{}, false
	}
	digits := strings.TrimLeft(intPart+frac, "0")
	// value = 0.digits × 10^(len(significant integer digits) + exp)
	shift := int64(len(intPart)) - int64(len(intPart)+len(frac)-len(digits))
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		return decimal{digits: "", exp: new(big.Int)}, true
	}
	d.digits = digits
	d.exp = exp.Add(exp, big.NewInt(shift))
	return d, true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

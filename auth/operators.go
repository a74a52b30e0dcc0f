package auth

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// opKind is the comparison a condition operator makes.
type opKind uint8

const (
	opString     opKind = iota // StringEquals: exact, case-sensitive
	opStringFold               // StringEqualsIgnoreCase
	opStringLike               // StringLike: `*` and `?` wildcards, case-sensitive
	opNumeric                  // Numeric*: decimal numbers
	opBool                     // Bool: "true" / "false", case-insensitive
	opIP                       // IpAddress: the address lies in a CIDR block
	opARN                      // ArnEquals / ArnLike: field by field, with wildcards
	opNull                     // Null: whether the key is absent
)

// numCmp is the relation of a Numeric operator: key <relation> policy value.
type numCmp uint8

const (
	numEq numCmp = iota
	numLt
	numLe
	numGt
	numGe
)

// setQualifier is the ForAnyValue: / ForAllValues: prefix, or none.
type setQualifier uint8

const (
	setNone setQualifier = iota
	setAny
	setAll
)

// The set-operator prefixes and the IfExists suffix, spelled exactly as IAM spells them.
const (
	prefixAnyValue  = "ForAnyValue:"
	prefixAllValues = "ForAllValues:"
	suffixIfExists  = "IfExists"
)

// operator is a parsed condition operator name such as "ForAllValues:StringNotEqualsIfExists".
type operator struct {
	base     string // the IAM operator without prefix or suffix, e.g. "StringNotEquals"
	kind     opKind
	cmp      numCmp
	negated  bool // StringNot*, NumericNotEquals, NotIpAddress, ArnNot*
	ifExists bool
	set      setQualifier
}

// baseOperators are the IAM condition operators iotcore-local evaluates, in the order error
// messages list them.
var baseOperators = []operator{
	{base: "StringEquals", kind: opString},
	{base: "StringNotEquals", kind: opString, negated: true},
	{base: "StringEqualsIgnoreCase", kind: opStringFold},
	{base: "StringNotEqualsIgnoreCase", kind: opStringFold, negated: true},
	{base: "StringLike", kind: opStringLike},
	{base: "StringNotLike", kind: opStringLike, negated: true},
	{base: "NumericEquals", kind: opNumeric, cmp: numEq},
	{base: "NumericNotEquals", kind: opNumeric, cmp: numEq, negated: true},
	{base: "NumericLessThan", kind: opNumeric, cmp: numLt},
	{base: "NumericLessThanEquals", kind: opNumeric, cmp: numLe},
	{base: "NumericGreaterThan", kind: opNumeric, cmp: numGt},
	{base: "NumericGreaterThanEquals", kind: opNumeric, cmp: numGe},
	{base: "Bool", kind: opBool},
	{base: "IpAddress", kind: opIP},
	{base: "NotIpAddress", kind: opIP, negated: true},
	{base: "ArnEquals", kind: opARN},
	{base: "ArnLike", kind: opARN},
	{base: "ArnNotEquals", kind: opARN, negated: true},
	{base: "ArnNotLike", kind: opARN, negated: true},
	{base: "Null", kind: opNull},
}

// unsupportedOperators are IAM operators that exist but that AWS IoT has no key for: no date
// or binary condition key is provided on the data plane.
var unsupportedOperators = []string{
	"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan",
	"DateGreaterThanEquals", "BinaryEquals",
}

// parseOperator parses a condition operator name. On failure it returns a message for a
// *ParseError, suggesting the right spelling when there is one: operator names are
// case-sensitive.
func parseOperator(name string) (operator, string) {
	rest := name
	set := setNone
	switch {
	case strings.HasPrefix(rest, prefixAnyValue):
		set, rest = setAny, rest[len(prefixAnyValue):]
	case strings.HasPrefix(rest, prefixAllValues):
		set, rest = setAll, rest[len(prefixAllValues):]
	}
	ifExists := false
	if len(rest) > len(suffixIfExists) && strings.HasSuffix(rest, suffixIfExists) {
		ifExists, rest = true, rest[:len(rest)-len(suffixIfExists)]
	}
	for _, op := range baseOperators {
		if op.base != rest {
			continue
		}
		if op.kind == opNull && (set != setNone || ifExists) {
			return operator{}, "Null takes neither a ForAnyValue:/ForAllValues: prefix nor the IfExists suffix: it tests whether the key is present"
		}
		op.set, op.ifExists = set, ifExists
		return op, ""
	}
	return operator{}, unknownOperator(name)
}

// unknownOperator explains why name is not an operator.
func unknownOperator(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		q := name[:i+1]
		if q != prefixAnyValue && q != prefixAllValues {
			if strings.EqualFold(q, prefixAnyValue) || strings.EqualFold(q, prefixAllValues) || strings.EqualFold(q, "ForAnyValues:") || strings.EqualFold(q, "ForAllValue:") {
				return fmt.Sprintf("unknown set operator %q: write %q or %q (case-sensitive)", q, prefixAnyValue, prefixAllValues)
			}
			return fmt.Sprintf("unknown set operator %q: the only prefixes are %q and %q", q, prefixAnyValue, prefixAllValues)
		}
	}
	if fixed := fixOperatorCase(name); fixed != "" {
		return fmt.Sprintf("unknown condition operator (operator names are case-sensitive: did you mean %q?)", fixed)
	}
	base := name
	if i := strings.IndexByte(base, ':'); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, suffixIfExists)
	for _, u := range unsupportedOperators {
		if strings.EqualFold(u, base) {
			return fmt.Sprintf("IAM operator %s is not supported: AWS IoT provides no date or binary condition keys", u)
		}
	}
	names := make([]string, len(baseOperators))
	for i, op := range baseOperators {
		names[i] = op.base
	}
	return fmt.Sprintf("unknown condition operator; the operators are %s, optionally prefixed with %q or %q and suffixed with %q (except Null)",
		strings.Join(names, ", "), prefixAnyValue, prefixAllValues, suffixIfExists)
}

// fixOperatorCase returns the correctly cased spelling of an operator written in the wrong
// case, or "".
func fixOperatorCase(name string) string {
	prefix, rest := "", name
	for _, p := range []string{prefixAnyValue, prefixAllValues} {
		if hasPrefixFold(rest, p) {
			prefix, rest = p, rest[len(p):]
		}
	}
	suffix := ""
	if len(rest) > len(suffixIfExists) && strings.EqualFold(rest[len(rest)-len(suffixIfExists):], suffixIfExists) {
		suffix, rest = suffixIfExists, rest[:len(rest)-len(suffixIfExists)]
	}
	for _, op := range baseOperators {
		if strings.EqualFold(op.base, rest) {
			return prefix + op.base + suffix
		}
	}
	return ""
}

// validateValue checks one policy value of an operator at parse time: Bool and Null take
// booleans, IpAddress a CIDR block or an address, Numeric a number. It returns a problem
// description or "". Strings and ARNs take anything (variables are resolved at Compile).
func (op *operator) validateValue(v string) string {
	switch op.kind {
	case opBool, opNull:
		if _, ok := parseBool(v); !ok {
			return fmt.Sprintf("%q is not a boolean: write \"true\" or \"false\"", v)
		}
	case opIP:
		if _, err := parseCIDR(v); err != nil {
			addr, _, hasBits := strings.Cut(v, "/")
			if _, aerr := netip.ParseAddr(addr); aerr == nil && hasBits {
				return fmt.Sprintf("%q is not a CIDR block: the prefix length must be a number from 0 to 32 for IPv4, to 128 for IPv6", v)
			}
			return fmt.Sprintf("%q is not an IP address or CIDR block such as \"203.0.113.0/24\" or \"2001:db8::/32\"", v)
		}
	case opNumeric:
		if _, ok := parseNumber(v); !ok {
			return fmt.Sprintf("%q is not a number", v)
		}
	}
	return ""
}

// parseBool reads IAM's booleans, "true" and "false" in any case.
func parseBool(s string) (value, ok bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseNumber reads a decimal number; NaN and infinities are not numbers here.
func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// parseCIDR reads a CIDR block ("10.0.0.0/8", "2001:db8::/32"); a bare address is the block of
// that one address. Host bits below the prefix are ignored, as IAM does.
func parseCIDR(s string) (netip.Prefix, error) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// policyValue is one policy value of a condition, resolved for the connection and ready to be
// compared: only the fields of its operator's kind are set.
type policyValue struct {
	text   string       // opString, opStringFold: the value with variables substituted
	glob   glob         // opStringLike
	arn    [6]glob      // opARN: one glob per ARN field
	arnAll bool         // opARN: the value is "*"
	arnBad bool         // opARN: the value is not a complete ARN and matches nothing
	prefix netip.Prefix // opIP
	num    float64      // opNumeric
	b      bool         // opBool
}

// substitutes reports whether the operator's values may hold policy variables: as in IAM, only
// the string and ARN operators' do.
func (op *operator) substitutes() bool {
	switch op.kind {
	case opString, opStringFold, opStringLike, opARN:
		return true
	}
	return false
}

// resolveValue prepares one policy value. Variables are substituted only for the string and
// ARN operators, as in IAM, and only when the document knows variables (vars).
func (op *operator) resolveValue(v string, s *scope, vars bool) policyValue {
	var pv policyValue
	switch op.kind {
	case opString, opStringFold:
		if vars && strings.Contains(v, "${") {
			pv.text = substitute(tokenize(v, true), s)
		} else {
			pv.text = v
		}
	case opStringLike:
		pv.glob = buildGlob(tokenize(v, vars), s)
	case opARN:
		if v == "*" {
			pv.arnAll = true
			break
		}
		fields, n := splitARN(tokenize(v, vars))
		if n < 6 {
			pv.arnBad = true
			break
		}
		for i := range fields {
			pv.arn[i] = buildGlob(fields[i], s)
		}
	case opIP:
		pv.prefix, _ = parseCIDR(v) // validated by ParseDocument; a bad block matches nothing
	case opNumeric:
		pv.num, _ = parseNumber(v)
	case opBool, opNull:
		pv.b, _ = parseBool(v)
	}
	return pv
}

// substitute renders tokens as plain text: variables replaced by their values (or kept as
// "${name}" when they have none), wildcards as the characters `*` and `?`.
func substitute(toks []token, s *scope) string {
	var b strings.Builder
	for _, t := range toks {
		switch t.kind {
		case tokText:
			b.WriteString(t.text)
		case tokStar:
			b.WriteByte('*')
		case tokOne:
			b.WriteByte('?')
		case tokVariable:
			if v, ok := s.variable(t.text); ok {
				b.WriteString(v)
			} else {
				b.WriteString("${" + t.text + "}")
			}
		}
	}
	return b.String()
}

// matches is the positive comparison of the operator (negation is applied by the caller):
// whether the key's value v matches the policy value p. A key value of the wrong shape (not a
// number, not an address, not an ARN, not a boolean) matches nothing.
func (op *operator) matches(v string, p *policyValue) bool {
	switch op.kind {
	case opString:
		return v == p.text
	case opStringFold:
		return strings.EqualFold(v, p.text)
	case opStringLike:
		return p.glob.matchString(v)
	case opNumeric:
		x, ok := parseNumber(v)
		if !ok {
			return false
		}
		switch op.cmp {
		case numLt:
			return x < p.num
		case numLe:
			return x <= p.num
		case numGt:
			return x > p.num
		case numGe:
			return x >= p.num
		}
		return x == p.num
	case opBool:
		b, ok := parseBool(v)
		return ok && b == p.b
	case opIP:
		a, err := netip.ParseAddr(v)
		return err == nil && p.prefix.IsValid() && p.prefix.Contains(a.Unmap())
	case opARN:
		return matchARN(v, p)
	}
	return false
}

// matchARN matches an ARN field by field (partition, service, region, account, resource), so a
// wildcard never crosses a colon except in the last field, which takes the rest.
func matchARN(v string, p *policyValue) bool {
	if p.arnAll {
		return true
	}
	if p.arnBad {
		return false
	}
	for i := 0; i < 5; i++ {
		field, rest, ok := strings.Cut(v, ":")
		if !ok || !p.arn[i].matchString(field) {
			return false
		}
		v = rest
	}
	return p.arn[5].matchString(v)
}

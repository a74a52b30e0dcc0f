package index

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// value is one indexed value of a field: its lowercased text and, for JSON numbers (and
// booleans, as 0/1 for the aggregations), its number.
type value struct {
	s    string
	raw  string // as indexed, for the keys of buckets
	n    float64
	num  bool // a JSON number
	bool bool // a JSON boolean (n is 0 or 1)
}

func stringValue(s string) value { return value{s: strings.ToLower(s), raw: s} }

func numberValue(f float64) value {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	return value{s: s, raw: s, n: f, num: true}
}

func boolValue(b bool) value {
	if b {
		return value{s: "true", raw: "true", n: 1, bool: true}
	}
	return value{s: "false", raw: "false", n: 0, bool: true}
}

// fields are a document's indexed fields: name → values (several for arrays and groups).
type fields map[string][]value

// matches evaluates a parsed query against a document's fields.
func matches(n node, f fields) bool {
	switch n := n.(type) {
	case allNode:
		return true
	case andNode:
		return matches(n.l, f) && matches(n.r, f)
	case orNode:
		return matches(n.l, f) || matches(n.r, f)
	case notNode:
		return !matches(n.n, f)
	case termNode:
		if n.field == "" {
			for _, vs := range f {
				if anyMatches(n, vs) {
					return true
				}
			}
			return false
		}
		vs, ok := f[n.field]
		if n.exists {
			return ok && len(vs) > 0
		}
		return anyMatches(n, vs)
	case rangeNode:
		for _, v := range f[n.field] {
			if inRange(n, v) {
				return true
			}
		}
	}
	return false
}

func anyMatches(t termNode, vs []value) bool {
	for _, v := range vs {
		switch {
		case t.pattern:
			if glob(t.runes, v.s) {
				return true
			}
		case t.isNum && v.num:
			if v.n == t.num {
				return true
			}
		case v.s == t.value:
			return true
		}
	}
	return false
}

// inRange compares numerically when the value is a number and the bounds are numbers, else
// as (lowercased) strings.
func inRange(r rangeNode, v value) bool {
	if v.num && r.numeric {
		if r.lo != "" && (v.n < r.loN || (v.n == r.loN && !r.loIncl)) {
			return false
		}
		if r.hi != "" && (v.n > r.hiN || (v.n == r.hiN && !r.hiIncl)) {
			return false
		}
		return true
	}
	if v.bool {
		return false
	}
	if r.lo != "" {
		c := strings.Compare(v.s, r.lo)
		if c < 0 || (c == 0 && !r.loIncl) {
			return false
		}
	}
	if r.hi != "" {
		c := strings.Compare(v.s, r.hi)
		if c > 0 || (c == 0 && !r.hiIncl) {
			return false
		}
	}
	return true
}

// glob matches s against a pattern whose wildStar matches any run of characters and wildOne
// exactly one. Iterative with one backtrack point, over s's bytes decoded as UTF-8 as it goes,
// so that it allocates nothing.
func glob(p []rune, s string) bool {
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(s) {
		r, size := utf8.DecodeRuneInString(s[ti:])
		switch {
		case pi < len(p) && (p[pi] == wildOne || p[pi] == r):
			pi++
			ti += size
		case pi < len(p) && p[pi] == wildStar:
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			_, msize := utf8.DecodeRuneInString(s[mark:])
			mark += msize
			ti = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == wildStar {
		pi++
	}
	return pi == len(p)
}

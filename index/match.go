package index

import (
	"strconv"
	"strings"
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
	var qn float64
	qnum := false
	if !t.pattern {
		qn, qnum = numberOf(t.value)
	}
	for _, v := range vs {
		switch {
		case t.pattern:
			if glob(t.value, v.s) {
				return true
			}
		case qnum && v.num:
			if v.n == qn {
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
	if v.num {
		lo, loOK := numberOf(r.lo)
		hi, hiOK := numberOf(r.hi)
		if (r.lo == "" || loOK) && (r.hi == "" || hiOK) {
			if r.lo != "" && (v.n < lo || (v.n == lo && !r.loIncl)) {
				return false
			}
			if r.hi != "" && (v.n > hi || (v.n == hi && !r.hiIncl)) {
				return false
			}
			return true
		}
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
// exactly one. Iterative with one backtrack point: linear-ish, no recursion.
func glob(pattern, s string) bool {
	p, t := []rune(pattern), []rune(s)
	pi, ti := 0, 0
	star, mark := -1, 0
	for ti < len(t) {
		switch {
		case pi < len(p) && (p[pi] == wildOne || p[pi] == t[ti]):
			pi++
			ti++
		case pi < len(p) && p[pi] == wildStar:
			star, mark = pi, ti
			pi++
		case star >= 0:
			pi = star + 1
			mark++
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

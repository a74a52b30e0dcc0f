package auth

import (
	"fmt"
	"strings"
)

// evalCondition decides one condition for the connection. valid is false when the condition
// cannot be evaluated at all (an unknown operator in a hand-built Statement; ParseDocument
// refuses those).
//
// The semantics are IAM's:
//   - a key with no value makes a positive operator false and a negated one (StringNot*,
//     NumericNotEquals, NotIpAddress, ArnNot*) true;
//   - ...IfExists holds whenever the key has no value, and otherwise tests as without the suffix;
//   - ForAllValues: holds when the key has no value (or an empty set), and otherwise when every
//     value of the key matches; ForAnyValue: fails when the key has no value, and otherwise
//     holds when some value matches;
//   - Null holds when the key's absence equals the policy value ("true": absent);
//   - a value of the key "matches" when it matches any of the policy's values, and for a
//     negated operator when it matches none of them;
//   - without a set prefix, a multi-valued key matches when any of its values matches (negated:
//     when none does).
func evalCondition(s *scope, c *Condition, vars bool) (holds, valid bool) {
	op, msg := parseOperator(c.Operator)
	if msg != "" {
		return false, false
	}
	kv, m := s.lookup(c.Key)
	return op.holds(s, &kv, m == present, c.Values, vars), true
}

// holds applies the operator to the key's value kv (present says whether it has one) and the
// policy values.
func (op *operator) holds(s *scope, kv *keyValue, present bool, values []string, vars bool) bool {
	if op.kind == opNull {
		for _, v := range values {
			if absent, _ := parseBool(v); absent != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case op.ifExists, op.set == setAll:
			return true
		case op.set == setAny:
			return false
		}
		return op.negated
	}
	pvs := make([]policyValue, len(values))
	for i, v := range values {
		pvs[i] = op.resolveValue(v, s, vars)
	}
	matchesAny := func(v string) bool {
		for i := range pvs {
			if op.matches(v, &pvs[i]) {
				return true
			}
		}
		return false
	}
	n := kv.len()
	switch op.set {
	case setAny:
		for i := 0; i < n; i++ {
			if matchesAny(kv.at(i)) != op.negated {
				return true
			}
		}
		return false
	case setAll:
		for i := 0; i < n; i++ {
			if matchesAny(kv.at(i)) == op.negated {
				return false
			}
		}
		return true
	}
	any := false
	for i := 0; i < n && !any; i++ {
		any = matchesAny(kv.at(i))
	}
	return any != op.negated
}

// describeCondition renders a condition for messages, with its values resolved when variables
// changed them: `StringEquals iot:ClientId ["${iot:Certificate.Subject.CommonName}"] (resolved
// to ["dev1"])`.
func describeCondition(s *scope, c *Condition, vars bool) string {
	text := c.Operator + " " + c.Key + " " + quoteList(c.Values)
	op, msg := parseOperator(c.Operator)
	if msg != "" || !vars || !op.substitutes() {
		return text
	}
	resolved := make([]string, len(c.Values))
	changed := false
	for i, v := range c.Values {
		resolved[i] = v
		if strings.Contains(v, "${") {
			resolved[i] = substitute(tokenize(v, true), s)
			changed = changed || resolved[i] != v
		}
	}
	if changed {
		text += " (resolved to " + quoteList(resolved) + ")"
	}
	return text
}

// whyFalse explains, for Explain, why a condition did not hold: the key's value (or why it has
// none) and the variables of the policy values that have none.
func whyFalse(s *scope, c *Condition, vars bool) string {
	op, msg := parseOperator(c.Operator)
	if msg != "" {
		return fmt.Sprintf("condition %s cannot be evaluated: %s", describeCondition(s, c, vars), msg)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "condition %s was false: ", describeCondition(s, c, vars))
	kv, m := s.lookup(c.Key)
	switch {
	case m != present:
		fmt.Fprintf(&b, "%s has no value (%s)", c.Key, s.describeMiss(c.Key, m))
		switch {
		case op.kind == opNull:
		case op.set == setAny:
			b.WriteString(", and ForAnyValue: needs at least one value")
		case !op.negated:
			b.WriteString(", and a missing key matches no value (add IfExists to let it pass)")
		}
	default:
		fmt.Fprintf(&b, "%s is %s", c.Key, kv.String())
	}
	if vars && op.substitutes() {
		for _, v := range c.Values {
			for _, t := range tokenize(v, true) {
				if t.kind != tokVariable {
					continue
				}
				if _, ok := s.variable(t.text); !ok {
					fmt.Fprintf(&b, "; ${%s} has no value (%s), so it is compared as literal text", t.text, s.whyUnresolved(t.text))
				}
			}
		}
	}
	return b.String()
}

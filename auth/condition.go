package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Condition is one test of a statement's Condition block: an operator applied to one condition
// key, with the policy's values for it. The block
//
//	{"StringEquals": {"iot:ClientId": ["a", "b"]}, "Bool": {"iot:Connection.Thing.IsAttached": true}}
//
// holds two: {StringEquals iot:ClientId [a b]} and {Bool iot:Connection.Thing.IsAttached [true]}.
// A statement applies only when all of its conditions hold (AND across operators and keys); one
// condition holds when the key matches any of its values (OR across values).
type Condition struct {
	Operator string   // as written, e.g. "ForAllValues:StringLikeIfExists"
	Key      string   // as written; keys compare case-insensitively
	Values   []string // strings as written; JSON numbers and booleans as their text; may be empty
}

// parseConditionBlock parses and validates a statement's Condition object; path names it in
// errors ("Statement[0].Condition"). Conditions come out in document order.
func parseConditionBlock(raw json.RawMessage, path string) ([]Condition, error) {
	operators, err := objectMembers(raw, path)
	if err != nil {
		return nil, err
	}
	var out []Condition
	for _, o := range operators {
		field := path + "." + o.key
		op, msg := parseOperator(o.key)
		if msg != "" {
			return nil, fieldError(field, "%s", msg)
		}
		if k := jsonKind(o.value); k != "object" {
			return nil, fieldError(field, "must be an object of condition keys and values, such as {\"iot:ClientId\": \"dev1\"}, got %s", k)
		}
		keys, err := objectMembers(o.value, field)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			kf := field + "." + k.key
			if k.key == "" {
				return nil, fieldError(kf, "a condition key must not be empty")
			}
			values, err := conditionValues(k.value, kf, &op)
			if err != nil {
				return nil, err
			}
			out = append(out, Condition{Operator: o.key, Key: k.key, Values: values})
		}
	}
	return out, nil
}

// conditionValues decodes the values of one condition key: a string, number or boolean, or an
// array of them (possibly empty: AWS's own examples use []), each checked against the operator.
func conditionValues(raw json.RawMessage, field string, op *operator) ([]string, error) {
	if jsonKind(raw) == "array" {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fieldError(field, "%v", err)
		}
		out := make([]string, 0, len(elems))
		for i, e := range elems {
			v, err := conditionScalar(e, fmt.Sprintf("%s[%d]", field, i), op, "must be a string, number or boolean")
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	v, err := conditionScalar(raw, field, op, "must be a string, number or boolean, or an array of them")
	if err != nil {
		return nil, err
	}
	return []string{v}, nil
}

// conditionScalar decodes one condition value and validates it for op.
func conditionScalar(raw json.RawMessage, field string, op *operator, want string) (string, error) {
	var v string
	switch k := jsonKind(raw); k {
	case "string":
		s, err := jsonString(raw, field)
		if err != nil {
			return "", err
		}
		v = s
	case "number", "boolean":
		v = string(bytes.TrimSpace(raw))
	default:
		return "", fieldError(field, "%s, got %s", want, k)
	}
	if msg := op.validateValue(v); msg != "" {
		return "", fieldError(field, "%s", msg)
	}
	return v, nil
}

package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// member is one key/value pair of a JSON object, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// objectMembers splits a JSON object (already known to be valid JSON) into its members in
// document order, so that errors are reported in the order a reader meets them, and refuses
// duplicate keys, which a map would silently collapse to the last one.
func objectMembers(raw json.RawMessage, path string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, fieldError(orDocument(path), "%v", err)
	}
	var out []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fieldError(orDocument(path), "%v", err)
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fieldError(orDocument(path), "%v", err)
		}
		for _, m := range out {
			if m.key == key {
				field := key
				if path != "" {
					field = path + "." + key
				}
				return nil, fieldError(field, "duplicate key")
			}
		}
		out = append(out, member{key: key, value: v})
	}
	return out, nil
}

func orDocument(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

// jsonKind names the JSON type of a value for error messages.
func jsonKind(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// jsonString decodes a value that must be a JSON string.
func jsonString(raw json.RawMessage, field string) (string, error) {
	if k := jsonKind(raw); k != "string" {
		return "", fieldError(field, "must be a string, got %s", k)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldError(field, "%v", err)
	}
	return s, nil
}

// stringList decodes IAM's "string or array of strings" shape. validate returns a problem
// description for a bad element, or "". The element's field is field itself for a lone string and
// field[i] inside an array, so the message points at the exact element.
func stringList(raw json.RawMessage, field string, validate func(string) string) ([]string, error) {
	switch k := jsonKind(raw); k {
	case "string":
		s, err := jsonString(raw, field)
		if err != nil {
			return nil, err
		}
		if msg := validate(s); msg != "" {
			return nil, fieldError(field, "%s", msg)
		}
		return []string{s}, nil
	case "array":
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, fieldError(field, "%v", err)
		}
		if len(elems) == 0 {
			return nil, fieldError(field, "must not be an empty list")
		}
		out := make([]string, 0, len(elems))
		for i, e := range elems {
			ef := fmt.Sprintf("%s[%d]", field, i)
			s, err := jsonString(e, ef)
			if err != nil {
				return nil, err
			}
			if msg := validate(s); msg != "" {
				return nil, fieldError(ef, "%s", msg)
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, fieldError(field, "must be a string or an array of strings, got %s", k)
	}
}

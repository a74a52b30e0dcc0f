package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Effect is a statement's effect: EffectAllow or EffectDeny.
type Effect string

// The two effects a statement may have. The spelling is exact: AWS refuses "allow".
const (
	EffectAllow Effect = "Allow"
	EffectDeny  Effect = "Deny"
)

// The policy language versions AWS accepts. 2012-10-17 is current and the only one that knows
// policy variables in IAM; AWS IoT documents only it, but IAM still accepts the older one.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Document is a parsed AWS IoT policy document.
type Document struct {
	Version    string // "" when the document has none
	ID         string // the optional top-level "Id" IAM allows; informational only
	Statements []Statement
}

// Statement is one statement of a policy document. Exactly one of Actions and NotActions is
// set, and exactly one of Resources and NotResources.
type Statement struct {
	Sid          string
	Effect       Effect
	Actions      []string
	NotActions   []string
	Resources    []string
	NotResources []string
	// Condition is the statement's condition block as written (a JSON object), nil when absent.
	Condition json.RawMessage
	// Conditions is Condition parsed and validated by ParseDocument, in document order. Compile
	// evaluates these; for a hand-built Statement that sets only Condition, Compile parses it.
	Conditions []Condition
}

// ParseError is why ParseDocument refused a document. Field names the element at fault in the
// document's own terms ("Statement[1].Effect", "Statement[0].Action[2]"); it is empty for JSON
// syntax errors, which carry the byte Offset instead.
type ParseError struct {
	Field   string
	Offset  int64 // byte offset of a JSON syntax error, -1 for other errors
	Message string
}

// Error formats the error as "Field: Message", or the bare message for JSON syntax errors.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func fieldError(field, format string, args ...any) *ParseError {
	return &ParseError{Field: field, Offset: -1, Message: fmt.Sprintf(format, args...)}
}

// ParseDocument parses and validates an AWS IoT policy document. It is as strict as AWS where
// AWS's rules are known (exact key names, no unknown keys, no Principal, Effect spelled exactly,
// one of Action/NotAction and of Resource/NotResource) and reports the first problem as a
// *ParseError naming the field.
func ParseDocument(document string) (*Document, error) {
	var root json.RawMessage
	if err := json.Unmarshal([]byte(document), &root); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, syntaxError(document, se)
		}
		return nil, &ParseError{Offset: -1, Message: "invalid JSON: " + err.Error()}
	}
	if jsonKind(root) != "object" {
		return nil, &ParseError{Offset: -1, Message: "a policy document must be a JSON object, got " + jsonKind(root)}
	}
	members, err := objectMembers(root, "")
	if err != nil {
		return nil, err
	}
	doc := &Document{}
	var statement json.RawMessage
	for _, m := range members {
		switch m.key {
		case "Version":
			if doc.Version, err = jsonString(m.value, "Version"); err != nil {
				return nil, err
			}
			if doc.Version != Version2012 && doc.Version != Version2008 {
				return nil, fieldError("Version", "must be %q or %q, got %q", Version2012, Version2008, doc.Version)
			}
		case "Id":
			if doc.ID, err = jsonString(m.value, "Id"); err != nil {
				return nil, err
			}
		case "Statement":
			statement = m.value
		default:
			return nil, unknownKey(m.key, "", []string{"Version", "Id", "Statement"})
		}
	}
	if statement == nil {
		return nil, fieldError("Statement", "required")
	}
	switch jsonKind(statement) {
	case "object":
		s, err := parseStatement(statement, "Statement[0]")
		if err != nil {
			return nil, err
		}
		doc.Statements = []Statement{s}
	case "array":
		var elems []json.RawMessage
		if err := json.Unmarshal(statement, &elems); err != nil {
			return nil, fieldError("Statement", "%v", err)
		}
		if len(elems) == 0 {
			return nil, fieldError("Statement", "must contain at least one statement")
		}
		doc.Statements = make([]Statement, 0, len(elems))
		for i, e := range elems {
			path := fmt.Sprintf("Statement[%d]", i)
			if jsonKind(e) != "object" {
				return nil, fieldError(path, "must be an object, got %s", jsonKind(e))
			}
			s, err := parseStatement(e, path)
			if err != nil {
				return nil, err
			}
			doc.Statements = append(doc.Statements, s)
		}
	default:
		return nil, fieldError("Statement", "must be an object or an array of objects, got %s", jsonKind(statement))
	}
	return doc, nil
}

// syntaxError reports a JSON syntax error at the offending byte (encoding/json counts the bytes
// read, one past it), with line and column for multi-line documents.
func syntaxError(document string, se *json.SyntaxError) *ParseError {
	off := se.Offset
	if off > 0 && off <= int64(len(document)) && !strings.HasPrefix(se.Error(), "unexpected end") {
		off--
	}
	before := document[:min(off, int64(len(document)))]
	line := strings.Count(before, "\n") + 1
	col := len(before) - strings.LastIndexByte(before, '\n')
	return &ParseError{Offset: off, Message: fmt.Sprintf("invalid JSON at offset %d (line %d, column %d): %s", off, line, col, se.Error())}
}

// statementKeys are the keys a statement may have, in the order error messages list them.
var statementKeys = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}

// parseStatement parses one statement object; path is its name in error messages.
func parseStatement(raw json.RawMessage, path string) (Statement, error) {
	var s Statement
	members, err := objectMembers(raw, path)
	if err != nil {
		return s, err
	}
	var haveEffect, haveAction, haveNotAction, haveResource, haveNotResource bool
	for _, m := range members {
		field := path + "." + m.key
		switch m.key {
		case "Sid":
			if s.Sid, err = jsonString(m.value, field); err != nil {
				return s, err
			}
		case "Effect":
			e, err := jsonString(m.value, field)
			if err != nil {
				return s, err
			}
			if Effect(e) != EffectAllow && Effect(e) != EffectDeny {
				return s, fieldError(field, "must be %q or %q, got %q", EffectAllow, EffectDeny, e)
			}
			s.Effect, haveEffect = Effect(e), true
		case "Action", "NotAction":
			list, err := stringList(m.value, field, validateAction)
			if err != nil {
				return s, err
			}
			if m.key == "Action" {
				s.Actions, haveAction = list, true
			} else {
				s.NotActions, haveNotAction = list, true
			}
		case "Resource", "NotResource":
			list, err := stringList(m.value, field, validateResource)
			if err != nil {
				return s, err
			}
			if m.key == "Resource" {
				s.Resources, haveResource = list, true
			} else {
				s.NotResources, haveNotResource = list, true
			}
		case "Condition":
			switch k := jsonKind(m.value); k {
			case "null":
			case "object":
				s.Condition = append(json.RawMessage(nil), m.value...)
				if s.Conditions, err = parseConditionBlock(m.value, field); err != nil {
					return s, err
				}
			default:
				return s, fieldError(field, "must be an object, got %s", k)
			}
		case "Principal", "NotPrincipal":
			return s, fieldError(field, "not allowed in AWS IoT policies: a policy applies to the certificate or identity it is attached to")
		default:
			return s, unknownKey(m.key, path, statementKeys)
		}
	}
	if !haveEffect {
		return s, fieldError(path+".Effect", "required")
	}
	if haveAction == haveNotAction {
		return s, fieldError(path, "exactly one of Action or NotAction is required")
	}
	if haveResource == haveNotResource {
		return s, fieldError(path, "exactly one of Resource or NotResource is required")
	}
	return s, nil
}

// validateAction accepts "*" and "service:action" patterns ("iot:Publish", "iot:*", "*:Get*").
func validateAction(a string) string {
	if a == "" {
		return "must not be empty"
	}
	if a != "*" && strings.IndexByte(a, ':') <= 0 {
		return fmt.Sprintf("%q is not an action: write \"*\" or \"service:action\", such as %q", a, ActionPublish)
	}
	return ""
}

// validateResource accepts "*" and anything written as an ARN. Whether the ARN can match is
// Compile's business: an ARN of another account is valid, it just matches nothing here.
func validateResource(r string) string {
	if r == "" {
		return "must not be empty"
	}
	if r != "*" && !strings.HasPrefix(r, "arn:") {
		example := strings.TrimLeft(r, "/")
		if i := strings.IndexByte(example, '/'); i < 0 || !isResourceType(example[:i]) {
			example = ResourceTopic + "/" + example
		}
		return fmt.Sprintf("%q is not a resource: write \"*\" or an ARN such as \"arn:aws:iot:us-east-1:123456789012:%s\"", r, example)
	}
	return ""
}

// unknownKey reports a key that has no place at path, suggesting the right spelling when the
// key differs from an allowed one only in case (keys are case-sensitive).
func unknownKey(key, path string, allowed []string) *ParseError {
	field := key
	if path != "" {
		field = path + "." + key
	}
	for _, a := range allowed {
		if strings.EqualFold(a, key) {
			return fieldError(field, "unknown key (keys are case-sensitive: did you mean %q?)", a)
		}
	}
	return fieldError(field, "unknown key; allowed here: %s", strings.Join(allowed, ", "))
}

package auth

import (
	"strings"
)

// Environment is what a connection knows at CONNECT. Compile resolves policy variables from it
// and checks the ARN prefix of resource patterns (partition, region, account) against it.
type Environment struct {
	Partition string // "aws" when empty
	Region    string
	Account   string

	ClientID string

	ThingName       string // "" when no thing is bound; the thing variables resolve only then
	ThingTypeName   string
	ThingAttributes map[string]string
	ThingIsAttached bool

	// CertificateID is the connection's certificate (lowercase hex SHA-256 of its DER). No AWS
	// policy variable names it; it is here for the certificate variables to come and for logs.
	CertificateID string
}

func (e *Environment) partition() string {
	if e.Partition == "" {
		return "aws"
	}
	return e.Partition
}

// The policy variables the emulator resolves. Names compare case-insensitively, as IAM condition
// keys do; the attribute name inside Attributes[...] is compared exactly, as thing attribute
// names are case-sensitive.
const (
	varClientID        = "iot:ClientId"
	varThingName       = "iot:Connection.Thing.ThingName"
	varThingTypeName   = "iot:Connection.Thing.ThingTypeName"
	varThingIsAttached = "iot:Connection.Thing.IsAttached"
	varThingAttrPrefix = "iot:Connection.Thing.Attributes["
)

// tokenKind classifies the pieces of a resource pattern as written.
type tokenKind uint8

const (
	tokText     tokenKind = iota // literal text as written (may contain ':' field separators)
	tokStar                      // a `*` wildcard
	tokOne                       // a `?` wildcard
	tokVariable                  // ${name}
)

type token struct {
	kind tokenKind
	text string // tokText: the text; tokVariable: the name between "${" and "}"
}

// tokenize splits a pattern into text, wildcards and ${...} variables. A "${" with no closing
// "}" is plain text. Characters inside ${...} are never wildcards. Without vars, "${" is plain
// text too (policies of Version 2008-10-17 or none).
func tokenize(pattern string, vars bool) []token {
	var out []token
	start := 0
	text := func(end int) {
		if end > start {
			out = append(out, token{kind: tokText, text: pattern[start:end]})
		}
	}
	for i := 0; i < len(pattern); {
		switch {
		case pattern[i] == '*' || pattern[i] == '?':
			text(i)
			k := tokStar
			if pattern[i] == '?' {
				k = tokOne
			}
			out = append(out, token{kind: k})
			i++
			start = i
		case vars && pattern[i] == '$' && i+1 < len(pattern) && pattern[i+1] == '{':
			end := strings.IndexByte(pattern[i+2:], '}')
			if end < 0 {
				i++ // an unclosed "${" is text; wildcards after it still count
				continue
			}
			text(i)
			out = append(out, token{kind: tokVariable, text: pattern[i+2 : i+2+end]})
			i += 2 + end + 1
			start = i
		default:
			i++
		}
	}
	text(len(pattern))
	return out
}

// resolveVariable returns the value of the variable called name in env. ok is false when the
// variable is unknown or has no value for this connection; the caller then keeps "${name}" as
// literal text, so the pattern matches nothing real (neither an Allow nor a Deny applies). The
// fixed escapes ${*}, ${?} and ${$} always resolve, to a literal character.
func resolveVariable(name string, env *Environment) (value string, ok bool) {
	switch name {
	case "*", "?", "$":
		return name, true
	}
	switch {
	case strings.EqualFold(name, varClientID):
		value = env.ClientID
	case env.ThingName == "":
		return "", false // every other variable we know is a thing variable
	case strings.EqualFold(name, varThingName):
		value = env.ThingName
	case strings.EqualFold(name, varThingTypeName):
		value = env.ThingTypeName
	case strings.EqualFold(name, varThingIsAttached):
		value = "false"
		if env.ThingIsAttached {
			value = "true"
		}
	case len(name) > len(varThingAttrPrefix) && strings.EqualFold(name[:len(varThingAttrPrefix)], varThingAttrPrefix) && name[len(name)-1] == ']':
		value = env.ThingAttributes[name[len(varThingAttrPrefix):len(name)-1]]
	}
	return value, value != ""
}

// whyUnresolved explains, for Explain, why a variable kept its literal text.
func whyUnresolved(name string, env *Environment) string {
	switch {
	case strings.EqualFold(name, varClientID):
		return "the connection has an empty client ID"
	case len(name) >= len("iot:Connection.Thing.") && strings.EqualFold(name[:len("iot:Connection.Thing.")], "iot:Connection.Thing."):
		if env.ThingName == "" {
			return "no thing is bound to this connection"
		}
		if strings.EqualFold(name, varThingTypeName) {
			return "thing " + env.ThingName + " has no thing type"
		}
		if len(name) > len(varThingAttrPrefix) && strings.EqualFold(name[:len(varThingAttrPrefix)], varThingAttrPrefix) && name[len(name)-1] == ']' {
			return "thing " + env.ThingName + " has no attribute " + name[len(varThingAttrPrefix):len(name)-1]
		}
		return "not a variable the emulator knows"
	default:
		return "not a variable the emulator knows"
	}
}

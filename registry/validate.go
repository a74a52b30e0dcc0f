package registry

import (
	"regexp"
	"strings"
	"unicode"
)

// The name and value rules of the AWS IoT service model.
var (
	thingNameRE     = regexp.MustCompile(`^[a-zA-Z0-9:_-]+$`)
	attrNameRE      = regexp.MustCompile(`^[a-zA-Z0-9_.,@/:#-]+$`)
	policyNameRE    = regexp.MustCompile(`^[\w+=,.@-]+$`)
	hexRE           = regexp.MustCompile(`^[0-9a-f]+$`)
	maxNameLen      = 128
	maxAttrValueLen = 800
	// maxPolicyChars is the AWS IoT quota on a policy document's size, counted without whitespace.
	maxPolicyChars = 2048
)

func validThingName(name string) error {
	if len(name) < 1 || len(name) > maxNameLen || !thingNameRE.MatchString(name) {
		return newError(ErrInvalidRequest,
			"Invalid thing name %q: it must be 1-128 characters of a-z, A-Z, 0-9, ':', '_' and '-'", name)
	}
	return nil
}

// validThingTypeName applies the thing name rule, which AWS also uses for thing type names.
func validThingTypeName(name string) error {
	if len(name) > maxNameLen || !thingNameRE.MatchString(name) {
		return newError(ErrInvalidRequest,
			"Invalid thing type name %q: it must be 1-128 characters of a-z, A-Z, 0-9, ':', '_' and '-'", name)
	}
	return nil
}

func validAttributes(attrs map[string]string) error {
	for k, v := range attrs {
		if err := validAttributeName(k); err != nil {
			return err
		}
		if len(v) > maxAttrValueLen {
			return newError(ErrInvalidRequest,
				"Invalid value of attribute %q: %d characters, at most %d are allowed", k, len(v), maxAttrValueLen)
		}
	}
	return nil
}

// validAttributeName applies the model's rule for attribute names (of things, groups, and the
// searchable attributes of thing types).
func validAttributeName(k string) error {
	if len(k) < 1 || len(k) > maxNameLen || !attrNameRE.MatchString(k) {
		return newError(ErrInvalidRequest,
			"Invalid attribute name %q: it must be 1-128 characters of a-z, A-Z, 0-9 and _.,@/:#-", k)
	}
	return nil
}

// validThingGroupName applies the model's thing group name rule, the same as for things.
func validThingGroupName(name string) error {
	if len(name) < 1 || len(name) > maxNameLen || !thingNameRE.MatchString(name) {
		return newError(ErrInvalidRequest,
			"Invalid thing group name %q: it must be 1-128 characters of a-z, A-Z, 0-9, ':', '_' and '-'", name)
	}
	return nil
}

// validDescription applies the model's rule for thing type and thing group descriptions: at
// most 2028 printable characters (spaces allowed).
func validDescription(d, param string) error {
	if len(d) > maxDescriptionLen {
		return newError(ErrInvalidRequest, "Invalid %s: %d characters, at most %d are allowed", param, len(d), maxDescriptionLen)
	}
	for _, r := range d {
		if r != ' ' && (!unicode.IsGraphic(r) || unicode.IsSpace(r)) {
			return newError(ErrInvalidRequest, "Invalid %s: only printable characters and spaces are allowed", param)
		}
	}
	return nil
}

func validPolicyName(name string) error {
	if len(name) < 1 || len(name) > maxNameLen || !policyNameRE.MatchString(name) {
		return newError(ErrInvalidRequest,
			"Invalid policy name %q: it must be 1-128 characters of a-z, A-Z, 0-9 and _+=,.@-", name)
	}
	return nil
}

// normalizeCertID lowercases a certificate id (AWS accepts either case and an optional 0x).
func normalizeCertID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	return strings.TrimPrefix(id, "0x")
}

// certID normalises id and checks it is 64 hex digits, the form of every AWS IoT certificate id.
func certID(id string) (string, error) {
	n := normalizeCertID(id)
	if len(n) != 64 || !hexRE.MatchString(n) {
		return "", newError(ErrInvalidRequest, "Invalid certificate ID %q: it must be 64 hexadecimal digits", id)
	}
	return n, nil
}

// policyChars counts the characters of a policy document that AWS counts against the size quota:
// all but whitespace.
func policyChars(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

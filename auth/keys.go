package auth

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// The condition keys AWS IoT provides on the data plane. Every one of them is also a policy
// variable, except the multi-valued ones. Names compare case-insensitively, as IAM condition keys
// do; the attribute name inside Attributes[...] is compared exactly, as thing attribute names are
// case-sensitive.
const (
	keyClientID          = "iot:ClientId"
	keySourceIP          = "aws:SourceIp"
	keyDomainName        = "iot:DomainName"
	keyConnectAttributes = "iot:ConnectAttributes"
	keyLastWillTopic     = "iot:LastWillTopic"
	keyThingPrefix       = "iot:Connection.Thing."
	keyThingName         = "iot:Connection.Thing.ThingName"
	keyThingTypeName     = "iot:Connection.Thing.ThingTypeName"
	keyThingIsAttached   = "iot:Connection.Thing.IsAttached"
	keyThingAttrPrefix   = "iot:Connection.Thing.Attributes["
	keyCertPrefix        = "iot:Certificate."
)

// The values of iot:ConnectAttributes. The slices share one array so that a lookup does not
// allocate.
var (
	connectAttributesBoth = []string{"PersistentConnect", "LastWill"}
	connectAttributesPC   = connectAttributesBoth[:1]
	connectAttributesLW   = connectAttributesBoth[1:]
)

// keyValue is the value of a condition key for one connection: one string, or a list for the
// multi-valued keys (iot:ConnectAttributes, iot:Certificate.*.List, iot:Certificate.AvailableKeys).
type keyValue struct {
	one   string
	list  []string
	multi bool
}

func (v *keyValue) len() int {
	if v.multi {
		return len(v.list)
	}
	return 1
}

func (v *keyValue) at(i int) string {
	if v.multi {
		return v.list[i]
	}
	return v.one
}

// String renders the value for explanations: "x", or ["x","y"] for a multi-valued key.
func (v *keyValue) String() string {
	if !v.multi {
		return fmt.Sprintf("%q", v.one)
	}
	return quoteList(v.list)
}

// miss says why a condition key or policy variable has no value, so that Explain can tell the
// user; present means it has one.
type miss uint8

const (
	present           miss = iota
	missUnknown            // not a key AWS IoT provides
	missClientID           // the client ID is empty
	missSourceIP           // the client's address is not known
	missDomainName         // the name the client connected to is not known
	missNoAttributes       // iot:ConnectAttributes: neither a persistent session nor a will
	missNoWill             // the CONNECT carries no will
	missNoThing            // no thing is bound to the connection
	missNoThingType        // the thing has no thing type
	missNoThingAttr        // the thing lacks the attribute
	missNoCertificate      // the connection has no certificate
	missCertNoValue        // the certificate lacks the attribute
	missCertIndex          // .N beyond the values (at most five are kept)
	missCertWildcard       // the value holds one of * $ + ? #
	missCertTooLong        // the value is longer than 1024 characters
	missCertSyntax         // iot:Certificate.<something the emulator does not know>
)

// scope resolves condition keys and policy variables for one connection. It parses the
// connection's certificate at most once, and only if a policy asks for a certificate key.
type scope struct {
	env  *Environment
	cert *certAttrs
}

func newScope(env *Environment) *scope { return &scope{env: env} }

// certificate returns the parsed certificate attributes, nil when there is no certificate.
func (s *scope) certificate() *certAttrs {
	if s.cert == nil && s.env.Certificate != nil {
		s.cert = parseCertAttrs(s.env.Certificate)
	}
	return s.cert
}

// lookup returns the value of the condition key called name, or why it has none. A key the
// emulator does not know is missing, as IAM treats a key absent from the request context: only
// the ...IfExists operators and Null can then hold.
func (s *scope) lookup(name string) (keyValue, miss) {
	env := s.env
	switch {
	case strings.EqualFold(name, keyClientID):
		if env.ClientID == "" {
			return keyValue{}, missClientID
		}
		return keyValue{one: env.ClientID}, present
	case strings.EqualFold(name, keySourceIP):
		if !env.SourceIP.IsValid() {
			return keyValue{}, missSourceIP
		}
		return keyValue{one: env.SourceIP.Unmap().String()}, present
	case strings.EqualFold(name, keyDomainName):
		if env.DomainName == "" {
			return keyValue{}, missDomainName
		}
		return keyValue{one: env.DomainName}, present
	case strings.EqualFold(name, keyConnectAttributes):
		switch {
		case env.PersistentConnect && env.HasWill:
			return keyValue{list: connectAttributesBoth, multi: true}, present
		case env.PersistentConnect:
			return keyValue{list: connectAttributesPC, multi: true}, present
		case env.HasWill:
			return keyValue{list: connectAttributesLW, multi: true}, present
		}
		return keyValue{}, missNoAttributes
	case strings.EqualFold(name, keyLastWillTopic):
		if !env.HasWill {
			return keyValue{}, missNoWill
		}
		return keyValue{one: ResourceARN(*env, ResourceTopic, env.WillTopic)}, present
	case hasPrefixFold(name, keyThingPrefix):
		return s.thingKey(name)
	case hasPrefixFold(name, keyCertPrefix):
		if s.certificate() == nil {
			return keyValue{}, missNoCertificate
		}
		return s.cert.lookup(name[len(keyCertPrefix):])
	}
	return keyValue{}, missUnknown
}

// thingKey looks up the iot:Connection.Thing.* keys, which have values only when a thing is
// bound to the connection.
func (s *scope) thingKey(name string) (keyValue, miss) {
	env := s.env
	known := strings.EqualFold(name, keyThingName) || strings.EqualFold(name, keyThingTypeName) ||
		strings.EqualFold(name, keyThingIsAttached) || isThingAttribute(name)
	switch {
	case !known:
		return keyValue{}, missUnknown
	case env.ThingName == "":
		return keyValue{}, missNoThing
	case strings.EqualFold(name, keyThingName):
		return keyValue{one: env.ThingName}, present
	case strings.EqualFold(name, keyThingTypeName):
		if env.ThingTypeName == "" {
			return keyValue{}, missNoThingType
		}
		return keyValue{one: env.ThingTypeName}, present
	case strings.EqualFold(name, keyThingIsAttached):
		if env.ThingIsAttached {
			return keyValue{one: "true"}, present
		}
		return keyValue{one: "false"}, present
	}
	v := env.ThingAttributes[name[len(keyThingAttrPrefix):len(name)-1]]
	if v == "" {
		return keyValue{}, missNoThingAttr
	}
	return keyValue{one: v}, present
}

func isThingAttribute(name string) bool {
	return len(name) > len(keyThingAttrPrefix) && hasPrefixFold(name, keyThingAttrPrefix) && name[len(name)-1] == ']'
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// variable returns the value of the policy variable called name. ok is false when it has none
// or is multi-valued (IAM does not substitute multi-valued keys); the caller then keeps
// "${name}" as literal text, so the pattern matches nothing real (neither an Allow nor a Deny
// applies). The fixed escapes ${*}, ${?} and ${$} always resolve, to a literal character.
func (s *scope) variable(name string) (value string, ok bool) {
	switch name {
	case "*", "?", "$":
		return name, true
	}
	v, m := s.lookup(name)
	if m != present || v.multi {
		return "", false
	}
	return v.one, true
}

// whyUnresolved explains, for Explain, why a variable kept its literal text.
func (s *scope) whyUnresolved(name string) string {
	v, m := s.lookup(name)
	if m == present && v.multi {
		return "it is multi-valued, and a multi-valued key is never substituted (use it in a Condition with ForAnyValue: or ForAllValues:)"
	}
	return s.describeMiss(name, m)
}

// describeMiss says in words why the key called name has no value.
func (s *scope) describeMiss(name string, m miss) string {
	env := s.env
	switch m {
	case missClientID:
		return "the connection has an empty client ID"
	case missSourceIP:
		return "the client's address is not known"
	case missDomainName:
		return "the name the client connected to is not known"
	case missNoAttributes:
		return "the connection asks for neither a persistent session nor a last will"
	case missNoWill:
		return "the CONNECT carries no last will"
	case missNoThing:
		return "no thing is bound to this connection"
	case missNoThingType:
		return "thing " + env.ThingName + " has no thing type"
	case missNoThingAttr:
		return "thing " + env.ThingName + " has no attribute " + name[len(keyThingAttrPrefix):len(name)-1]
	case missNoCertificate:
		return "the connection has no client certificate"
	case missCertNoValue:
		return "the certificate has no such attribute"
	case missCertIndex:
		return fmt.Sprintf("the index is beyond the attribute's values (the certificate has %d; at most %d are read)", s.certValueCount(name), certMaxValues)
	case missCertWildcard:
		return "the certificate's value contains one of * $ + ? #, which AWS IoT never substitutes"
	case missCertTooLong:
		return fmt.Sprintf("the certificate's value is longer than %d characters", certMaxLength)
	case missCertSyntax:
		return "not a certificate variable AWS IoT defines (iot:Certificate.Subject|Issuer.<attribute>[.N|.List], .Subject|Issuer.AlternativeName.<type>[.N|.List], .SerialNumber, .AvailableKeys)"
	}
	return "not a key or variable AWS IoT provides"
}

// certValueCount is how many values the certificate attribute named by a .N key has.
func (s *scope) certValueCount(name string) int {
	if s.certificate() == nil {
		return 0
	}
	ref, ok := parseCertKey(name[len(keyCertPrefix):])
	if !ok {
		return 0
	}
	return len(s.cert.values(ref))
}

// quoteList renders strings as a JSON-like list for messages.
func quoteList(list []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", s)
	}
	b.WriteByte(']')
	return b.String()
}

// runeCount counts characters, the unit of AWS's 1024-character limit.
func runeCount(s string) int { return utf8.RuneCountInString(s) }

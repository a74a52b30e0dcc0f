package shadow

import (
	"net/http"
	"strings"
)

// Key names one shadow: a thing's classic (unnamed) shadow when Name is "", else its named shadow.
// The thing need not exist in the registry: AWS accepts shadow updates for any valid thing name.
type Key struct {
	Thing string
	Name  string
}

// The operations of the shadow request topics.
const (
	OpGet    = "get"
	OpUpdate = "update"
	OpDelete = "delete"
)

// Name limits (AWS iot-data model): thing names 1-128 of [a-zA-Z0-9:_-], shadow names 1-64 of
// [$a-zA-Z0-9:_-].
const (
	maxThingName  = 128
	maxShadowName = 64
)

// validate checks the thing and shadow names; the error is a 400.
func (k Key) validate() *Error {
	if !validName(k.Thing, maxThingName, false) {
		return newError(http.StatusBadRequest,
			"Invalid thing name '%s': it must be 1-%d characters of a-z, A-Z, 0-9, ':', '_' and '-'",
			k.Thing, maxThingName)
	}
	if k.Name != "" && !validName(k.Name, maxShadowName, true) {
		return newError(http.StatusBadRequest,
			"Invalid shadow name '%s': it must be 1-%d characters of a-z, A-Z, 0-9, '$', ':', '_' and '-'",
			k.Name, maxShadowName)
	}
	return nil
}

// validName reports whether s is 1..max characters from [a-zA-Z0-9:_-] (and '$' if dollar).
func validName(s string, max int, dollar bool) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == ':', c == '_', c == '-':
		case c == '$' && dollar:
		default:
			return false
		}
	}
	return true
}

// prefix is the topic prefix of the shadow's topics.
func (k Key) prefix() string {
	if k.Name == "" {
		return "$aws/things/" + k.Thing + "/shadow/"
	}
	return "$aws/things/" + k.Thing + "/shadow/name/" + k.Name + "/"
}

// Topic returns the topic of a shadow with the given suffix, e.g. "update/accepted":
// $aws/things/{thing}/shadow/update/accepted for the classic shadow,
// $aws/things/{thing}/shadow/name/{name}/update/accepted for a named one.
func Topic(key Key, suffix string) string { return key.prefix() + suffix }

// ParseTopic recognises a shadow request topic, $aws/things/{thing}/shadow/{op} or
// $aws/things/{thing}/shadow/name/{name}/{op} with op one of get, update and delete, and returns
// the shadow and the operation. Response topics (…/update/accepted) and other topics are not
// requests: ok is false. Names are not validated here: a request on a topic with an invalid name
// is answered by the Service with a 400 on its /rejected topic.
func ParseTopic(topic string) (key Key, op string, ok bool) {
	rest, found := strings.CutPrefix(topic, "$aws/things/")
	if !found {
		return Key{}, "", false
	}
	parts := strings.Split(rest, "/")
	switch {
	case len(parts) == 3 && parts[1] == "shadow":
		key = Key{Thing: parts[0]}
		op = parts[2]
	case len(parts) == 5 && parts[1] == "shadow" && parts[2] == "name":
		key = Key{Thing: parts[0], Name: parts[3]}
		if key.Name == "" {
			return Key{}, "", false
		}
		op = parts[4]
	default:
		return Key{}, "", false
	}
	if key.Thing == "" || (op != OpGet && op != OpUpdate && op != OpDelete) {
		return Key{}, "", false
	}
	return key, op, true
}

// topicSafe reports whether the key's names can be placed in a topic: a rejection of a request
// whose names could not be (a '/', an MQTT wildcard, NUL, or empty) is not published.
func (k Key) topicSafe() bool {
	if k.Thing == "" {
		return false
	}
	return !strings.ContainsAny(k.Thing, "/+#\x00") && !strings.ContainsAny(k.Name, "/+#\x00")
}

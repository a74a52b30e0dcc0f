package hooks

import (
	"encoding/json"
	"strconv"
)

// The presence events (connected, disconnected) are published for every connection, so their
// bodies are written field by field rather than through encoding/json's reflection. The bytes
// are exactly json.Marshal's (the same field order, omitempty rules and string escaping);
// lifecycle_json_test.go compares the two.

// appendPresence appends the JSON body of a presence event.
func appendPresence(b []byte, e *presenceEvent) []byte {
	b = append(b, `{"clientId":`...)
	b = appendJSONString(b, e.ClientID)
	if e.ThingName != "" {
		b = append(b, `,"thingName":`...)
		b = appendJSONString(b, e.ThingName)
	}
	b = append(b, `,"timestamp":`...)
	b = strconv.AppendInt(b, e.Timestamp, 10)
	b = append(b, `,"eventType":`...)
	b = appendJSONString(b, e.EventType)
	b = append(b, `,"sessionIdentifier":`...)
	b = appendJSONString(b, e.SessionIdentifier)
	b = append(b, `,"principalIdentifier":`...)
	b = appendJSONString(b, e.PrincipalIdentifier)
	if e.IPAddress != "" {
		b = append(b, `,"ipAddress":`...)
		b = appendJSONString(b, e.IPAddress)
	}
	if e.ClientInitiatedDisconnect != nil {
		b = append(b, `,"clientInitiatedDisconnect":`...)
		b = strconv.AppendBool(b, *e.ClientInitiatedDisconnect)
	}
	if e.DisconnectReason != "" {
		b = append(b, `,"disconnectReason":`...)
		b = appendJSONString(b, e.DisconnectReason)
	}
	b = append(b, `,"versionNumber":`...)
	b = strconv.AppendInt(b, e.VersionNumber, 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string the way json.Marshal writes it. Printable ASCII
// other than the characters Marshal escapes (" \ < > &) is copied; any other string goes
// through json.Marshal itself, so escaping rules never diverge.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil { // a string always encodes; kept for the error's sake
				return append(b, `""`...)
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

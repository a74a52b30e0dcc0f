package shadow

import (
	"strings"
	"testing"
)

func TestParseUpdateErrors(t *testing.T) {
	long := strings.Repeat("x", 65)
	deep := `{"a":{"b":{"c":{"d":{"e":{"f":{"g":1}}}}}}}`
	tests := []struct {
		name, payload string
		code          int
		msg           string
		token         string // the clientToken returned with the error ("" = none)
	}{
		{"empty", ``, 400, msgMissingPayload, ""},
		{"not JSON", `{"state":`, 400, msgInvalidJSON, ""},
		{"two values", `{"state":{}} {"state":{}}`, 400, msgInvalidJSON, ""},
		{"trailing garbage", `{"state":{}}x`, 400, msgInvalidJSON, ""},
		{"number", `66`, 400, msgMissingState, ""},
		{"array", `[{"state":{}}]`, 400, msgMissingState, ""},
		{"string", `"state"`, 400, msgMissingState, ""},
		{"no state", `{"clientToken":"t"}`, 400, msgMissingState, "t"},
		{"state string", `{"state":"x","clientToken":"t"}`, 400, msgStateNotObject, "t"},
		{"state number", `{"state":1}`, 400, msgStateNotObject, ""},
		{"state array", `{"state":[]}`, 400, msgStateNotObject, ""},
		{"desired array", `{"state":{"desired":[]}}`, 400, msgDesiredNotObject, ""},
		{"desired bool", `{"state":{"desired":false}}`, 400, msgDesiredNotObject, ""},
		{"reported string", `{"state":{"reported":"x"}}`, 400, msgReportedNotObj, ""},
		{"reported number", `{"state":{"reported":0}}`, 400, msgReportedNotObj, ""},
		{"delta node", `{"state":{"delta":{}}}`, 400, "State contains an invalid node: 'delta'", ""},
		{"unknown node first sorted", `{"state":{"z":1,"b":2,"desired":{}}}`, 400, "State contains an invalid node: 'b'", ""},
		{"invalid node beats desired type", `{"state":{"desired":1,"x":1}}`, 400, "State contains an invalid node: 'x'", ""},
		{"version negative", `{"state":{},"version":-3}`, 400, msgInvalidVersion, ""},
		{"version fraction", `{"state":{},"version":0.5}`, 400, msgInvalidVersion, ""},
		{"version string", `{"state":{},"version":"2"}`, 400, msgInvalidVersion, ""},
		{"version object", `{"state":{},"version":{}}`, 400, msgInvalidVersion, ""},
		{"version huge", `{"state":{},"version":1e300}`, 400, msgInvalidVersion, ""},
		{"token too long", `{"state":{},"clientToken":"` + long + `"}`, 400, msgInvalidToken, ""},
		{"token number", `{"state":{},"clientToken":5}`, 400, msgInvalidToken, ""},
		{"token object", `{"state":{},"clientToken":{}}`, 400, msgInvalidToken, ""},
		{"too deep desired", `{"state":{"desired":` + deep + `}}`, 400, msgTooDeep, ""},
		{"too deep reported", `{"state":{"reported":` + deep + `}}`, 400, msgTooDeep, ""},
		{"too deep arrays", `{"state":{"reported":{"a":[[[[[[1]]]]]]}}}`, 400, msgTooDeep, ""},
		{"null in array", `{"state":{"desired":{"a":[1,null]}}}`, 400, msgInvalidJSON, ""},
		{"null in nested array", `{"state":{"desired":{"a":[[null]]}}}`, 400, msgInvalidJSON, ""},
		{"null in object in array", `{"state":{"reported":{"a":[{"b":null}]}}}`, 400, msgInvalidJSON, ""},
		{"not UTF-8", "{\"state\":{\"desired\":{\"a\":\"\xff\"}}}", 415, msgNotUTF8, ""},
		{"too large", `{"state":{"desired":{"a":"` + strings.Repeat("x", MaxPayloadBytes) + `"}}}`, 413, msgTooLarge, ""},
		{"state checked before version", `{"version":"x"}`, 400, msgMissingState, ""},
		{"token checked first", `{"clientToken":7}`, 400, msgInvalidToken, ""},
		// Only trailing NULs are forgiven (see trimDevice): anything else around them is not.
		{"garbage after NUL", "{\"state\":{}}\x00garbage", 400, msgInvalidJSON, ""},
		{"document after NUL", "{\"state\":{}}\x00{\"state\":{}}", 400, msgInvalidJSON, ""},
		{"garbage before NUL", "{\"state\":{}}x\x00", 400, msgInvalidJSON, ""},
		{"leading NUL", "\x00{\"state\":{}}", 400, msgInvalidJSON, ""},
		{"interior NUL", "{\"state\":\x00{}}", 400, msgInvalidJSON, ""},
		{"NUL inside a string", "{\"state\":{\"desired\":{\"a\":\"x\x00y\"}}}", 400, msgInvalidJSON, ""},
		{"only NULs", "\x00\x00", 400, msgInvalidJSON, ""},
		{"only whitespace", " \n", 400, msgInvalidJSON, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := parseUpdate([]byte(tt.payload))
			if e == nil {
				t.Fatalf("accepted %q", tt.payload)
			}
			if e.Code != tt.code || e.Message != tt.msg {
				t.Fatalf("got %d %q, want %d %q", e.Code, e.Message, tt.code, tt.msg)
			}
			if req.token != tt.token || req.hasToken != (tt.token != "") {
				t.Fatalf("token %v %q, want %q", req.hasToken, req.token, tt.token)
			}
		})
	}
}

func TestParseUpdateAccepts(t *testing.T) {
	token64 := strings.Repeat("t", 64)
	tests := []struct {
		name, payload string
		check         func(*updateRequest) bool
	}{
		{"state null", `{"state":null}`, func(r *updateRequest) bool { return r.state == nil && !r.hasDesired && !r.hasReported }},
		{"empty state", `{"state":{}}`, func(r *updateRequest) bool { return r.state != nil && !r.hasDesired }},
		{"desired null", `{"state":{"desired":null}}`, func(r *updateRequest) bool { return r.hasDesired && r.desired == nil }},
		{"both sections", `{"state":{"desired":{"a":1},"reported":{"a":2}}}`, func(r *updateRequest) bool { return r.hasDesired && r.hasReported }},
		{"64-byte token", `{"state":{},"clientToken":"` + token64 + `"}`, func(r *updateRequest) bool { return r.hasToken && r.token == token64 }},
		{"empty token", `{"state":{},"clientToken":""}`, func(r *updateRequest) bool { return r.hasToken && r.token == "" }},
		{"null token is absent", `{"state":{},"clientToken":null}`, func(r *updateRequest) bool { return !r.hasToken }},
		{"version 0", `{"state":{},"version":0}`, func(r *updateRequest) bool { return r.hasVersion && r.version == 0 }},
		{"version 3.0", `{"state":{},"version":3.0}`, func(r *updateRequest) bool { return r.hasVersion && r.version == 3 }},
		{"version 1e1", `{"state":{},"version":1e1}`, func(r *updateRequest) bool { return r.hasVersion && r.version == 10 }},
		{"null version is absent", `{"state":{},"version":null}`, func(r *updateRequest) bool { return !r.hasVersion }},
		{"other top-level keys ignored", `{"state":{},"timestamp":5,"metadata":{"x":1}}`, func(r *updateRequest) bool { return true }},
		{"max depth", `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}}`, func(r *updateRequest) bool { return true }},
		{"empty containers do not count", `{"state":{"desired":{"a":{"b":{"c":{"d":{"e":{"f":{},"g":[]}}}}}}}}`, func(r *updateRequest) bool { return true }},
		{"nulls outside arrays", `{"state":{"desired":{"a":null,"b":{"c":null}}}}`, func(r *updateRequest) bool { return true }},
		{"duplicate keys keep last", `{"state":{"desired":{"a":1,"a":2}}}`, func(r *updateRequest) bool {
			return r.desired.(map[string]any)["a"] == mustJSONNumber("2")
		}},
		{"whitespace around", " \n{\"state\":{}}\t\n", func(r *updateRequest) bool { return true }},
		// The Embedded C SDK's shadow demo publishes strlen+1 bytes: the document and its NUL.
		{"trailing NUL", "{\"state\":{\"reported\":{\"powerOn\":1}},\"clientToken\":\"c\"}\x00", func(r *updateRequest) bool {
			return r.hasReported && r.token == "c"
		}},
		{"several trailing NULs", "{\"state\":{}}\x00\x00\x00\x00", func(r *updateRequest) bool { return true }},
		{"NUL and whitespace mixed", "{\"state\":{}}\r\n\x00 \x00", func(r *updateRequest) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, e := parseUpdate([]byte(tt.payload))
			if e != nil {
				t.Fatalf("refused %q: %v", tt.payload, e)
			}
			if !tt.check(req) {
				t.Fatalf("unexpected request %+v", req)
			}
		})
	}
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		payload string
		token   string
		has     bool
		err     bool
	}{
		{``, "", false, false},
		{`garbage`, "", false, false},
		{`[1]`, "", false, false},
		{`{}`, "", false, false},
		{`{"clientToken":"abc"}`, "abc", true, false},
		{`{"clientToken":null}`, "", false, false},
		{`{"clientToken":1}`, "", false, true},
		{`{"clientToken":"` + strings.Repeat("a", 65) + `"}`, "", false, true},
		{"{\"clientToken\":\"\xff\"}", "", false, false},
		{"{\"clientToken\":\"abc\"}\x00", "abc", true, false},
		{"{\"clientToken\":1}\x00", "", false, true},
		{"{\"clientToken\":\"abc\"}\x00x", "", false, false}, // not JSON: ignored, as garbage is
	}
	for _, tt := range tests {
		token, has, e := parseToken([]byte(tt.payload))
		if token != tt.token || has != tt.has || (e != nil) != tt.err {
			t.Errorf("parseToken(%q) = %q %v %v", tt.payload, token, has, e)
		}
		if e != nil && (e.Code != 400 || e.Message != msgInvalidToken) {
			t.Errorf("parseToken(%q) error %v", tt.payload, e)
		}
	}
}

func TestTooDeepCounting(t *testing.T) {
	// Level of desired = 1; the deepest non-empty container allowed is at level 6.
	nest := func(n int) string { // n nested objects below desired, the innermost holding a leaf
		return strings.Repeat(`{"k":`, n) + `1` + strings.Repeat(`}`, n)
	}
	for n := 1; n <= 8; n++ {
		v := mustJSON(t, nest(n)) // the desired object itself plus n-1 nested objects
		want := n > maxDepth
		if got := tooDeep(v, 1); got != want {
			t.Errorf("%d levels: tooDeep = %v, want %v", n, got, want)
		}
	}
}

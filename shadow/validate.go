package shadow

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/iotcore-local/iotcore-local/internal/devicejson"
)

// Limits of a request (reference §1.6).
const (
	// MaxPayloadBytes is the largest request payload accepted: AWS IoT's MQTT payload limit.
	MaxPayloadBytes = 128 * 1024
	// DefaultMaxStateBytes is AWS's limit on desired+reported of the merged document.
	DefaultMaxStateBytes = 8 * 1024
	// maxTokenBytes is the longest clientToken.
	maxTokenBytes = 64
	// maxDepth is the deepest level of a non-empty object or array, counting the desired or
	// reported object itself as level 1 (see tooDeep).
	maxDepth = 6
)

// updateRequest is a validated update request document.
type updateRequest struct {
	state       any  // the request's "state", exactly as sent (nil for "state": null)
	hasDesired  bool // "desired" was sent (possibly null)
	desired     any  // nil or map[string]any
	hasReported bool
	reported    any
	hasToken    bool
	token       string
	hasVersion  bool
	version     int64
}

// parseUpdate validates an update request payload. The checks run in the order below, so that a
// payload with several faults gets the error of the first; once the clientToken is read it is
// returned with the error (the /rejected document echoes it).
func parseUpdate(payload []byte) (*updateRequest, *Error) {
	req := &updateRequest{}
	payload = trimDevice(payload)
	if len(payload) == 0 {
		return req, badRequest(msgMissingPayload)
	}
	if len(payload) > MaxPayloadBytes {
		return req, &Error{Code: http.StatusRequestEntityTooLarge, Message: msgTooLarge}
	}
	if !utf8.Valid(payload) {
		return req, &Error{Code: http.StatusUnsupportedMediaType, Message: msgNotUTF8}
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return req, badRequest(msgInvalidJSON)
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return req, badRequest(msgMissingState)
	}
	if e := readToken(doc, req); e != nil {
		return req, e
	}
	state, ok := doc["state"]
	if !ok {
		return req, badRequest(msgMissingState)
	}
	req.state = state
	if state != nil {
		sections, ok := state.(map[string]any)
		if !ok {
			return req, badRequest(msgStateNotObject)
		}
		if e := readSections(sections, req); e != nil {
			return req, e
		}
	}
	if e := readVersion(doc, req); e != nil {
		return req, e
	}
	for _, section := range []any{req.desired, req.reported} {
		if m, ok := section.(map[string]any); ok && tooDeep(m, 1) {
			return req, badRequest(msgTooDeep)
		}
	}
	if nullInArray(state, false) {
		return req, badRequest(msgInvalidJSON)
	}
	return req, nil
}

// readToken reads the optional clientToken: a string of at most 64 bytes. A JSON null counts as
// absent.
func readToken(doc map[string]any, req *updateRequest) *Error {
	raw, ok := doc["clientToken"]
	if !ok || raw == nil {
		return nil
	}
	s, ok := raw.(string)
	if !ok || len(s) > maxTokenBytes {
		return badRequest(msgInvalidToken)
	}
	req.hasToken, req.token = true, s
	return nil
}

// readSections checks the members of "state": only desired and reported are allowed, each an
// object or null.
func readSections(sections map[string]any, req *updateRequest) *Error {
	if len(sections) > countKnown(sections) {
		keys := make([]string, 0, len(sections))
		for k := range sections {
			if k != "desired" && k != "reported" {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return badRequest(fmt.Sprintf(msgInvalidNode, keys[0]))
	}
	if d, ok := sections["desired"]; ok {
		if _, isObj := d.(map[string]any); d != nil && !isObj {
			return badRequest(msgDesiredNotObject)
		}
		req.hasDesired, req.desired = true, d
	}
	if r, ok := sections["reported"]; ok {
		if _, isObj := r.(map[string]any); r != nil && !isObj {
			return badRequest(msgReportedNotObj)
		}
		req.hasReported, req.reported = true, r
	}
	return nil
}

func countKnown(sections map[string]any) int {
	n := 0
	for _, k := range [...]string{"desired", "reported"} {
		if _, ok := sections[k]; ok {
			n++
		}
	}
	return n
}

// readVersion reads the optional version: a non-negative integer (1.0 and 1e0 are accepted as 1).
// A JSON null counts as absent.
func readVersion(doc map[string]any, req *updateRequest) *Error {
	raw, ok := doc["version"]
	if !ok || raw == nil {
		return nil
	}
	n, ok := raw.(json.Number)
	if !ok {
		return badRequest(msgInvalidVersion)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || f < 0 || f > 1<<53 {
			return badRequest(msgInvalidVersion)
		}
		v = int64(f)
	}
	if v < 0 {
		return badRequest(msgInvalidVersion)
	}
	req.hasVersion, req.version = true, v
	return nil
}

// tooDeep reports whether a non-empty object or array sits deeper than maxDepth, v being at
// level. The counting follows Greengrass's shadow manager: the desired (or reported) object is
// level 1, every non-empty object or array inside adds a level, leaves and empty containers do not
// count. So a leaf may be at most 6 keys or indexes below desired ({"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}
// is the deepest accepted desired). Counted from the request root ({} = 1, state = 2) the same
// limit is 8, the figure of the current AWS quota page; the error text says 6.
func tooDeep(v any, level int) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			return false
		}
		if level > maxDepth {
			return true
		}
		for _, c := range x {
			if tooDeep(c, level+1) {
				return true
			}
		}
	case []any:
		if len(x) == 0 {
			return false
		}
		if level > maxDepth {
			return true
		}
		for _, c := range x {
			if tooDeep(c, level+1) {
				return true
			}
		}
	}
	return false
}

// nullInArray reports whether a null appears anywhere inside an array of v: "Arrays can't have
// null values" (device-shadow-document). A null inside an object inside an array is refused too,
// since arrays are stored whole and the null could not mean "delete".
func nullInArray(v any, inArray bool) bool {
	switch x := v.(type) {
	case nil:
		return inArray
	case map[string]any:
		for _, c := range x {
			if nullInArray(c, inArray) {
				return true
			}
		}
	case []any:
		for _, c := range x {
			if nullInArray(c, true) {
				return true
			}
		}
	}
	return false
}

// parseToken reads the clientToken of a get or delete request. Their payload is optional and
// otherwise ignored (device-shadow-mqtt: "The content of the message is ignored"), so an empty or
// non-JSON payload is accepted; only a clientToken that is present and invalid is refused.
func parseToken(payload []byte) (token string, has bool, e *Error) {
	payload = trimDevice(payload)
	if len(payload) == 0 || len(payload) > MaxPayloadBytes || !utf8.Valid(payload) {
		return "", false, nil
	}
	v, err := decodeJSON(payload)
	if err != nil {
		return "", false, nil
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return "", false, nil
	}
	var req updateRequest
	if e := readToken(doc, &req); e != nil {
		return "", false, e
	}
	return req.token, req.hasToken, nil
}

// peekToken returns the clientToken of a payload if it has a valid one, for echoing in an error
// raised before the payload was otherwise examined (an invalid thing name, a storage failure).
func peekToken(payload []byte) (string, bool) {
	token, has, e := parseToken(payload)
	if e != nil {
		return "", false
	}
	return token, has
}

// trimDevice drops the NUL bytes and whitespace that devices leave after a request document
// (the Embedded C SDK's shadow demo publishes strlen+1 bytes), as AWS accepts them; see
// docs/aws-fidelity.md, "Trailing NUL bytes after device JSON". A payload that is nothing but
// such bytes is left as it is, so it keeps the error it always had.
func trimDevice(payload []byte) []byte {
	if t := devicejson.TrimTrailing(payload); len(t) > 0 {
		return t
	}
	return payload
}

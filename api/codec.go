package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// maxBodyBytes bounds a request body. The largest legitimate one is a CreatePolicy with a
// 404,600-character document, well under this.
const maxBodyBytes = 1 << 20

// decodeBody reads the whole JSON body into v before anything is stored, so a bad body never
// leaves half an operation behind. An empty body is the empty object (then the required-member
// checks of the operation speak). Errors are InvalidRequestExceptions naming the member.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return invalidRequest("reading body: %v", err)
	}
	if len(data) > maxBodyBytes {
		e := invalidRequest("request body larger than %d bytes", maxBodyBytes)
		e.status = http.StatusRequestEntityTooLarge
		return e
	}
	if len(bytes.TrimSpace(data)) == 0 {
		data = []byte("{}")
	}
	if err := json.Unmarshal(data, v); err != nil {
		return bodyError(err)
	}
	return nil
}

// bodyError words a JSON decoding error for the client, naming the member when there is one.
func bodyError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		if strings.Contains(syn.Error(), "unexpected end") {
			return invalidRequest("invalid JSON body: unexpected end of input")
		}
		return invalidRequest("invalid JSON body: %v at offset %d", syn, syn.Offset)
	case errors.As(err, &typ):
		got := typ.Value
		if got == "bool" {
			got = "boolean" // the JSON name, as in the "expected" half
		}
		if typ.Field == "" {
			return invalidRequest("invalid JSON body: expected %s, got %s", jsonKind(typ.Type), got)
		}
		return invalidRequest("%s: expected %s, got %s", typ.Field, jsonKind(typ.Type), got)
	}
	return invalidRequest("invalid JSON body: %v", err)
}

// jsonKind names a Go type by the JSON value it decodes from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a value"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return t.String()
}

// rawResponse is a non-JSON or non-200 answer (the emulator-only routes).
type rawResponse struct {
	status      int
	contentType string
	body        []byte
}

// empty is the output of operations that have none: AWS answers {}.
type empty struct{}

// withHeaders is an output (JSON, or a rawResponse) that comes with extra response headers:
// the emulator's own, which AWS clients ignore, or one replacing a header ServeHTTP set (Publish
// sends its traceId as x-amzn-RequestId, as AWS does).
type withHeaders struct {
	header http.Header
	body   any
}

// writeOutput writes an operation's output: a rawResponse as is, anything else as a JSON 200.
func (s *server) writeOutput(w http.ResponseWriter, out any) {
	if wh, ok := out.(withHeaders); ok {
		for k, vs := range wh.header {
			w.Header().Del(k)
			for _, v := range vs {
				w.Header().Add(k, v)
			}
		}
		out = wh.body
	}
	if raw, ok := out.(rawResponse); ok {
		w.Header().Set("Content-Type", raw.contentType)
		w.WriteHeader(raw.status)
		_, _ = w.Write(raw.body)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// writeJSON encodes v completely before writing anything, so an encoding failure becomes a
// clean 500 rather than a truncated body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		w.Header().Set("x-amzn-ErrorType", "InternalFailureException")
		data, _ = json.Marshal(errorBody{Message: fmt.Sprintf("internal failure: encoding response: %v", err)})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

// epochSeconds is a timestamp as the rest-json protocol sends it: a JSON number of seconds since
// the Unix epoch, with milliseconds as a fraction. The Go SDK refuses timestamps sent as strings.
// A zero time is left out of the output (with the omitzero option).
type epochSeconds time.Time

// IsZero reports whether the time is unset, for omitzero.
func (t epochSeconds) IsZero() bool { return time.Time(t).IsZero() }

// MarshalJSON writes the seconds, e.g. 1712345678.123.
func (t epochSeconds) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// boolQuery reads an optional boolean query parameter; absent is false.
func boolQuery(c *call, name string) (bool, error) {
	v := c.query(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidRequest("%s: must be true or false, got %q", name, v)
	}
	return b, nil
}

// intQuery reads an optional integer query parameter in [lo, hi]; absent is def.
func intQuery(c *call, name string, lo, hi, def int) (int, error) {
	v := c.query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalidRequest("%s: must be an integer between %d and %d, got %q", name, lo, hi, v)
	}
	return n, nil
}

// requiredHeader reads a header the operation cannot do without.
func requiredHeader(c *call, name string) (string, error) {
	v := c.r.Header.Get(name)
	if v == "" {
		return "", invalidRequest("%s: required header missing", name)
	}
	return v, nil
}

// markerPaging reads the paging parameters of the marker-paged list operations (ListPolicies,
// ListCertificates, ListCACertificates, ListCertificatesByCA): pageSize and isAscendingOrder.
func markerPaging(c *call) (pageSize int, ascending bool, err error) {
	if pageSize, err = intQuery(c, "pageSize", 1, maxListResults, defaultPageSize); err != nil {
		return 0, false, err
	}
	if ascending, err = boolQuery(c, "isAscendingOrder"); err != nil {
		return 0, false, err
	}
	return pageSize, ascending, nil
}

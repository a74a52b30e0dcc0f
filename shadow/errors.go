package shadow

import (
	"fmt"
	"net/http"
)

// Error is a refusal of a shadow request, as AWS reports it: an HTTP status code (also the
// numeric "code" of the MQTT /rejected document) and AWS's message text.
type Error struct {
	Code    int
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("shadow: %d %s", e.Code, e.Message) }

// newError returns an *Error; the message is formatted like fmt.Sprintf.
func newError(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AWS's error messages (device-shadow-error-messages). They are compared exactly by clients and
// by the fixtures in testdata/shadow, so they must not be reworded.
const (
	msgInvalidJSON      = "Invalid JSON"
	msgMissingState     = "Missing required node: state"
	msgStateNotObject   = "State node must be an object"
	msgDesiredNotObject = "Desired node must be an object"
	msgReportedNotObj   = "Reported node must be an object"
	msgInvalidVersion   = "Invalid version"
	msgInvalidToken     = "Invalid clientToken"
	msgTooDeep          = "JSON contains too many levels of nesting; maximum is 6"
	msgInvalidNode      = "State contains an invalid node: '%s'"
	msgMissingPayload   = "Missing update payload"
	msgNoShadow         = "No shadow exists with name: '%s'"
	msgVersionConflict  = "Version conflict"
	msgTooLarge         = "The payload exceeds the maximum size allowed"
	msgNotUTF8          = "Unsupported documented encoding; supported encoding is UTF-8"
	msgInternal         = "Internal service failure"
)

// errInternal answers a request that failed for a reason of the emulator's own (storage); the
// cause is logged, never shown to the client.
var errInternal = &Error{Code: http.StatusInternalServerError, Message: msgInternal}

func badRequest(msg string) *Error { return &Error{Code: http.StatusBadRequest, Message: msg} }

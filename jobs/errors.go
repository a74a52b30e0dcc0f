package jobs

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/internal/awserr"
)

// The kinds of control-plane refusal (internal/awserr): each one's text is the AWS exception
// name, and the api package maps it to its HTTP status.
var (
	ErrInvalidRequest         = awserr.InvalidRequest
	ErrNotFound               = awserr.NotFound
	ErrAlreadyExists          = awserr.AlreadyExists
	ErrConflict               = awserr.Conflict
	ErrInvalidStateTransition = awserr.InvalidStateTransition
	ErrVersionConflict        = awserr.VersionConflict
	ErrLimitExceeded          = awserr.LimitExceeded
)

// Error is a control-plane refusal with AWS's message. Kind is one of the Err* values.
type Error = awserr.Error

func newError(kind error, format string, args ...any) *Error {
	return awserr.New(kind, format, args...)
}

// The codes of the device API's rejections (MQTT …/rejected "code"); the HTTP device API maps
// each to its exception (see DeviceError.HTTP).
const (
	CodeInvalidTopic           = "InvalidTopic"
	CodeInvalidJSON            = "InvalidJson"
	CodeInvalidRequest         = "InvalidRequest"
	CodeInvalidStateTransition = "InvalidStateTransition"
	CodeResourceNotFound       = "ResourceNotFound"
	CodeVersionMismatch        = "VersionMismatch"
	CodeInternalError          = "InternalError"
	CodeRequestThrottled       = "RequestThrottled"
	CodeTerminalStateReached   = "TerminalStateReached"
)

// DeviceError is a refusal of a device request. State is the execution's state, sent with
// VersionMismatch and InvalidStateTransition.
type DeviceError struct {
	Code    string
	Message string
	State   *ExecutionState
}

func (e *DeviceError) Error() string { return e.Code + ": " + e.Message }

func deviceError(code, format string, args ...any) *DeviceError {
	return &DeviceError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// HTTP returns the iot-jobs-data status and exception of the refusal. A version mismatch has no
// exception of its own in the model: it is answered 409 InvalidStateTransitionException.
func (e *DeviceError) HTTP() (int, string) {
	switch e.Code {
	case CodeInvalidJSON, CodeInvalidRequest, CodeInvalidTopic:
		return 400, "InvalidRequestException"
	case CodeResourceNotFound:
		return 404, "ResourceNotFoundException"
	case CodeInvalidStateTransition, CodeVersionMismatch:
		return 409, "InvalidStateTransitionException"
	case CodeTerminalStateReached:
		return 410, "TerminalStateException"
	case CodeRequestThrottled:
		return 429, "ThrottlingException"
	}
	return 503, "ServiceUnavailableException"
}

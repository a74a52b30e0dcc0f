// Package provisioning is AWS IoT's fleet provisioning and just-in-time provisioning: provisioning
// templates and their versions, the template language (parameters, intrinsic functions,
// resources), certificate ownership tokens, claim certificates and RegisterThing. It knows nothing
// of MQTT or HTTP: hooks gives it its device face ($aws/certificates/..., $aws/provisioning-
// templates/...), api its control-plane face; the registry applies what a template produces in
// one transaction.
package provisioning

import (
	"errors"
	"fmt"
)

// Error kinds of the control plane. Each *Error wraps one; the api package maps them to AWS
// exception names and status codes (the kind's text is the exception name).
var (
	ErrNotFound              = errors.New("ResourceNotFoundException")
	ErrAlreadyExists         = errors.New("ResourceAlreadyExistsException")
	ErrInvalidRequest        = errors.New("InvalidRequestException")
	ErrConflictingUpdate     = errors.New("ConflictingResourceUpdateException")
	ErrDeleteConflict        = errors.New("DeleteConflictException")
	ErrVersionsLimitExceeded = errors.New("VersionsLimitExceededException")
	ErrLimitExceeded         = errors.New("LimitExceededException")
)

// Error is a control-plane refusal with an AWS-style message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// DeviceError is a refusal of a device request (CreateKeysAndCertificate,
// CreateCertificateFromCsr, RegisterThing): the members of the /rejected payload.
type DeviceError struct {
	StatusCode   int    `json:"statusCode" cbor:"statusCode"`
	ErrorCode    string `json:"errorCode" cbor:"errorCode"`
	ErrorMessage string `json:"errorMessage" cbor:"errorMessage"`
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.StatusCode, e.ErrorCode, e.ErrorMessage)
}

// The device error codes. Only InvalidCertificateOwnershipToken (400) has been seen from AWS;
// the others are our choices, recorded in docs/aws-fidelity.md.
const (
	CodeInvalidPayload   = "InvalidPayload"
	CodeInvalidCSR       = "InvalidCSR"
	CodeInvalidToken     = "InvalidCertificateOwnershipToken"
	CodeNotFound         = "ResourceNotFound"
	CodeAccessDenied     = "AccessDenied"
	CodeConflict         = "ResourceConflictsException"
	CodeRegistration     = "ResourceRegistrationFailure"
	CodeInternalFailure  = "InternalFailure"
	CodeInvalidParameter = "InvalidParameters"
)

func deviceError(status int, code, format string, args ...any) *DeviceError {
	return &DeviceError{StatusCode: status, ErrorCode: code, ErrorMessage: fmt.Sprintf(format, args...)}
}

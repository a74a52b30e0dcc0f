// Package provisioning is AWS IoT's fleet provisioning and just-in-time provisioning: provisioning
// templates and their versions, the template language (parameters, intrinsic functions,
// resources), certificate ownership tokens, claim certificates and RegisterThing. It knows nothing
// of MQTT or HTTP: hooks gives it its device face ($aws/certificates/..., $aws/provisioning-
// templates/...), api its control-plane face; the registry applies what a template produces in
// one transaction.
package provisioning

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/internal/awserr"
)

// Error kinds of the control plane (internal/awserr): each one's text is the AWS exception name,
// and the api package maps it to its HTTP status.
var (
	ErrNotFound              = awserr.NotFound
	ErrAlreadyExists         = awserr.AlreadyExists
	ErrInvalidRequest        = awserr.InvalidRequest
	ErrConflictingUpdate     = awserr.ConflictingUpdate
	ErrDeleteConflict        = awserr.DeleteConflict
	ErrVersionsLimitExceeded = awserr.VersionsLimitExceeded
	ErrLimitExceeded         = awserr.LimitExceeded
	// ErrRegistrationFailure: a resource of the template could not be made.
	ErrRegistrationFailure = awserr.RegistrationFailure
)

// Error is a control-plane refusal with an AWS-style message.
type Error = awserr.Error

func newError(kind error, format string, args ...any) error {
	return awserr.New(kind, format, args...)
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

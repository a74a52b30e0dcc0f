package authorizers

import (
	"errors"
	"fmt"

	"github.com/iotcore-local/iotcore-local/internal/awserr"
)

// Error kinds (internal/awserr); each one's text is the AWS exception name the API answers with.
var (
	ErrNotFound        = awserr.NotFound
	ErrAlreadyExists   = awserr.AlreadyExists
	ErrInvalidRequest  = awserr.InvalidRequest
	ErrLimitExceeded   = awserr.LimitExceeded
	ErrDeleteConflict  = awserr.DeleteConflict
	ErrInvalidResponse = awserr.InvalidResponse
)

// Error is an error of one kind with AWS's message.
type Error = awserr.Error

func newError(kind error, format string, args ...any) *Error {
	return awserr.New(kind, format, args...)
}

// Why an authentication failed; Refusal.Cause is one of them.
var (
	// ErrNoAuthorizer: the client named no authorizer and there is no default, or it named one
	// that does not exist or is INACTIVE.
	ErrNoAuthorizer = errors.New("no custom authorizer applies")
	// ErrSignature: the token's signature is missing or does not verify.
	ErrSignature = errors.New("token signature")
	// ErrFunction: the function raised an error, timed out, could not be called, or answered
	// something that is not a valid authorizer answer.
	ErrFunction = errors.New("authorizer function")
	// ErrNotAuthenticated: the function answered isAuthenticated false.
	ErrNotAuthenticated = errors.New("not authenticated")
)

// Refusal is a failed custom authentication: its Cause (one of the kinds above) and the detail
// a log line needs.
type Refusal struct {
	Cause      error
	Authorizer string
	Detail     string
}

func (r *Refusal) Error() string {
	if r.Authorizer != "" {
		return fmt.Sprintf("custom authorizer %s: %s: %s", r.Authorizer, r.Cause, r.Detail)
	}
	return fmt.Sprintf("custom authentication: %s: %s", r.Cause, r.Detail)
}
func (r *Refusal) Unwrap() error { return r.Cause }

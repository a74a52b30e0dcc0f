// Package awserr is the error shape the emulator's control-plane services share: a kind whose
// text is the AWS exception name the API answers with, and AWS's message. A service returns
// *Error; the api package turns the kind into the exception and its HTTP status in one place.
package awserr

import (
	"errors"
	"fmt"
)

// Kinds; each one's text is the AWS exception name.
var (
	NotFound        = errors.New("ResourceNotFoundException")
	AlreadyExists   = errors.New("ResourceAlreadyExistsException")
	InvalidRequest  = errors.New("InvalidRequestException")
	DeleteConflict  = errors.New("DeleteConflictException")
	LimitExceeded   = errors.New("LimitExceededException")
	InvalidResponse = errors.New("InvalidResponseException")

	Conflict               = errors.New("ConflictException")
	ConflictingUpdate      = errors.New("ConflictingResourceUpdateException")
	InvalidStateTransition = errors.New("InvalidStateTransitionException")
	VersionConflict        = errors.New("VersionConflictException")
	VersionsLimitExceeded  = errors.New("VersionsLimitExceededException")
	RegistrationFailure    = errors.New("ResourceRegistrationFailureException")
	SQLParse               = errors.New("SqlParseException")
	Unauthorized           = errors.New("UnauthorizedException")
)

// Error is an error of one kind with AWS's message. ResourceID and ResourceARN name the existing
// resource of a ResourceAlreadyExistsException, when the API reports it.
type Error struct {
	Kind        error
	Message     string
	ResourceID  string
	ResourceARN string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// New returns an *Error of kind with a formatted message.
func New(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

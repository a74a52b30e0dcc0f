package domains

import (
	"errors"
	"fmt"
)

// Error kinds; each one's text is the AWS exception name the API answers with.
var (
	ErrNotFound       = errors.New("ResourceNotFoundException")
	ErrAlreadyExists  = errors.New("ResourceAlreadyExistsException")
	ErrInvalidRequest = errors.New("InvalidRequestException")
	ErrLimitExceeded  = errors.New("LimitExceededException")
)

// Error is an error of one kind with AWS's message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Message }
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

package domains

import (
	"github.com/iotcore-local/iotcore-local/internal/awserr"
)

// Error kinds (internal/awserr); each one's text is the AWS exception name the API answers with.
var (
	ErrNotFound       = awserr.NotFound
	ErrAlreadyExists  = awserr.AlreadyExists
	ErrInvalidRequest = awserr.InvalidRequest
	ErrLimitExceeded  = awserr.LimitExceeded
)

// Error is an error of one kind with AWS's message.
type Error = awserr.Error

func newError(kind error, format string, args ...any) *Error {
	return awserr.New(kind, format, args...)
}

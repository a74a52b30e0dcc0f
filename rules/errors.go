package rules

import "github.com/iotcore-local/iotcore-local/internal/awserr"

// Kinds of errors the control plane answers (internal/awserr), named as AWS names the
// exceptions; the api package maps each to its HTTP status.
var (
	ErrInvalidRequest  = awserr.InvalidRequest
	ErrSQLParse        = awserr.SQLParse
	ErrAlreadyExists   = awserr.AlreadyExists
	ErrNotFound        = awserr.NotFound
	ErrUnauthorized    = awserr.Unauthorized
	ErrConflictingEdit = awserr.ConflictingUpdate
)

func errorf(kind error, format string, args ...any) error {
	return awserr.New(kind, format, args...)
}

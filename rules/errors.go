package rules

import (
	"errors"
	"fmt"
)

// Kinds of errors the control plane answers, named as AWS names the exceptions.
var (
	ErrInvalidRequest  = errors.New("InvalidRequestException")
	ErrSQLParse        = errors.New("SqlParseException")
	ErrAlreadyExists   = errors.New("ResourceAlreadyExistsException")
	ErrNotFound        = errors.New("ResourceNotFoundException")
	ErrUnauthorized    = errors.New("UnauthorizedException")
	ErrConflictingEdit = errors.New("ConflictingResourceUpdateException")
)

// kindError is an error of one kind with AWS's message.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func errorf(kind error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

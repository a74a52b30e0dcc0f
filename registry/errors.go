package registry

import (
	"errors"
	"fmt"
)

// newError builds the *Error every registry refusal returns; kind is one of the Err* sentinels.
func newError(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// alreadyExists builds a ResourceAlreadyExistsException that names the existing resource, as AWS
// does in the resourceId and resourceArn members.
func alreadyExists(id, arn, format string, args ...any) error {
	return &Error{Kind: ErrAlreadyExists, Message: fmt.Sprintf(format, args...), ResourceID: id, ResourceARN: arn}
}

// isKind reports whether err is a registry *Error of the given kind.
func isKind(err, kind error) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}

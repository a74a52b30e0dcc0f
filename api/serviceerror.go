package api

import (
	"errors"
	"net/http"

	"github.com/iotcore-local/iotcore-local/internal/awserr"
)

// awsErrStatus is the HTTP status AWS answers each internal/awserr kind with.
var awsErrStatus = map[error]int{
	awserr.NotFound:        http.StatusNotFound,
	awserr.AlreadyExists:   http.StatusConflict,
	awserr.InvalidRequest:  http.StatusBadRequest,
	awserr.DeleteConflict:  http.StatusConflict,
	awserr.LimitExceeded:   http.StatusGone,
	awserr.InvalidResponse: http.StatusBadRequest,

	awserr.Conflict:               http.StatusConflict,
	awserr.ConflictingUpdate:      http.StatusConflict,
	awserr.InvalidStateTransition: http.StatusConflict,
	awserr.VersionConflict:        http.StatusConflict,
	awserr.VersionsLimitExceeded:  http.StatusConflict,
	awserr.RegistrationFailure:    http.StatusBadRequest,
	awserr.SQLParse:               http.StatusBadRequest,
	awserr.Unauthorized:           http.StatusUnauthorized,
}

// serviceError maps a service's *awserr.Error to the API's error: the kind names the exception
// and decides the status (400 for a kind without one). Other errors pass through.
func serviceError(err error) error {
	var e *awserr.Error
	if !errors.As(err, &e) {
		return err
	}
	status := awsErrStatus[e.Kind]
	if status == 0 {
		status = http.StatusBadRequest
	}
	return &apiError{status: status, name: e.Kind.Error(), message: e.Message,
		resourceID: e.ResourceID, resourceARN: e.ResourceARN, cause: err}
}

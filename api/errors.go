package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/iotcore-local/iotcore-local/registry"
)

// apiError is an AWS error as it goes on the wire: the status, the exception name (sent in
// x-amzn-ErrorType, which is where the SDKs read it) and the body members.
type apiError struct {
	status      int
	name        string
	message     string
	resourceID  string // ResourceAlreadyExistsException only
	resourceARN string
	cause       error // for the log, never sent
}

func (e *apiError) Error() string { return e.name + ": " + e.message }

// invalidRequest is the 400 InvalidRequestException for input the wire model refuses.
func invalidRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, name: "InvalidRequestException", message: fmt.Sprintf(format, args...)}
}

// notFound is the 404 ResourceNotFoundException for things the API itself knows are missing.
func notFound(format string, args ...any) *apiError {
	return &apiError{status: http.StatusNotFound, name: "ResourceNotFoundException", message: fmt.Sprintf(format, args...)}
}

// registryKinds maps the registry's error kinds to their HTTP status in the iot service model.
// The exception name is the kind's own text.
var registryKinds = []struct {
	kind   error
	status int
}{
	{registry.ErrNotFound, http.StatusNotFound},
	{registry.ErrAlreadyExists, http.StatusConflict},
	{registry.ErrInvalidRequest, http.StatusBadRequest},
	{registry.ErrCertificateState, http.StatusNotAcceptable},
	{registry.ErrCertificateValidation, http.StatusBadRequest},
	{registry.ErrDeleteConflict, http.StatusConflict},
	{registry.ErrVersionConflict, http.StatusConflict},
	{registry.ErrMalformedPolicy, http.StatusBadRequest},
	{registry.ErrLimitExceeded, http.StatusGone},
	{registry.ErrVersionsLimitExceeded, http.StatusConflict},
	{registry.ErrRegistrationCodeValidation, http.StatusBadRequest},
	{registry.ErrCertificateConflict, http.StatusConflict},
}

// asAPIError turns any error an operation returns into the AWS error to send: an *apiError
// as is, a registry error by its kind, anything else as a 500 InternalFailureException.
func asAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, k := range registryKinds {
		if !errors.Is(err, k.kind) {
			continue
		}
		e := &apiError{status: k.status, name: k.kind.Error(), message: err.Error(), cause: err}
		var re *registry.Error
		if errors.As(err, &re) {
			e.message, e.resourceID, e.resourceARN = re.Message, re.ResourceID, re.ResourceARN
		}
		return e
	}
	return &apiError{
		status:  http.StatusInternalServerError,
		name:    "InternalFailureException",
		message: "internal failure: " + err.Error(),
		cause:   err,
	}
}

// errorBody is the JSON body of an error: the message, plus the resource members of
// ResourceAlreadyExistsException. There is never a numeric "code": the Go SDK decodes "code" as
// a string and fails on a number.
type errorBody struct {
	Message     string `json:"message"`
	ResourceID  string `json:"resourceId,omitempty"`
	ResourceARN string `json:"resourceArn,omitempty"`
}

// writeAPIError writes e as AWS does: status, x-amzn-ErrorType header and JSON body.
func writeAPIError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("x-amzn-ErrorType", e.name)
	writeJSON(w, e.status, errorBody{Message: e.message, ResourceID: e.resourceID, ResourceARN: e.resourceARN})
}

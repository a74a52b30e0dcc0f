package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"syscall"

	"github.com/aws/smithy-go"
)

// cleanError rewrites the AWS SDK's wording in an admin verb's error into what a user needs:
// "operation error IoT: CreateThing, https response error StatusCode: 409, RequestID: ...,
// ResourceAlreadyExistsException: ..." becomes "ResourceAlreadyExistsException: ...", and a
// refused connection says that serve is probably not running and which flag points elsewhere.
// The result still wraps err, so errors.Is and errors.As see through it.
func cleanError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var op *smithy.OperationError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		inner := err
		if errors.As(err, &op) {
			inner = op
		}
		msg = strings.Replace(msg, inner.Error(), refusedMessage(err), 1)
	case errors.As(err, &op):
		var apiErr smithy.APIError
		if errors.As(op.Err, &apiErr) {
			msg = strings.Replace(msg, op.Error(), apiErr.ErrorCode()+": "+apiErr.ErrorMessage(), 1)
		} else {
			msg = strings.Replace(msg, op.Error(), op.Err.Error(), 1)
		}
	default:
		return err
	}
	return &cleanedError{msg: msg, err: err}
}

// refusedMessage is what a refused connection to the API means in practice.
func refusedMessage(err error) string {
	base := "the API"
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			base = u.Scheme + "://" + u.Host
		}
	}
	return fmt.Sprintf("cannot reach the emulator at %s: connection refused; is serve running? (point the verb elsewhere with --endpoint-url URL)", base)
}

type cleanedError struct {
	msg string
	err error
}

func (e *cleanedError) Error() string { return e.msg }
func (e *cleanedError) Unwrap() error { return e.err }

// normalizeEndpointURL accepts "127.0.0.1:4580" and "localhost:4580" as "http://...".
func normalizeEndpointURL(s string) string {
	s = strings.TrimSpace(s)
	if s != "" && !strings.Contains(s, "://") {
		s = "http://" + s
	}
	return strings.TrimRight(s, "/")
}

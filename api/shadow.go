package api

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// This file serves the Device Shadow operations of the data plane (iot-data, rest-json):
// GetThingShadow, UpdateThingShadow, DeleteThingShadow and ListNamedShadowsForThing. The
// documents are the shadow engine's, byte for byte: the request body is the raw request state
// document, and a success answers with the raw document the engine returns (the body of
// get/accepted, update/accepted, delete/accepted). Refusals are answered in AWS's HTTP shape
// (x-amzn-ErrorType and {"message"}), never with the MQTT error document and its numeric code.
// Accepted updates and deletes are published on MQTT like MQTT ones (update/accepted,
// update/delta, update/documents, delete/accepted); /rejected answers MQTT requests only.

// The IoT policy actions of the shadow operations: Get/Update/DeleteThingShadow on
// thing/<thing> (classic shadow) or thing/<thing>/<shadowName> (named shadow), and
// ListNamedShadowsForThing on "*".
const (
	actionGetThingShadow           = "iot:GetThingShadow"
	actionUpdateThingShadow        = "iot:UpdateThingShadow"
	actionDeleteThingShadow        = "iot:DeleteThingShadow"
	actionListNamedShadowsForThing = "iot:ListNamedShadowsForThing"
)

// maxShadowPage is the largest pageSize of ListNamedShadowsForThing the iot-data model allows;
// without pageSize the engine's default (25) applies.
const maxShadowPage = 100

// shadowExceptions names the iot-data exception of each status the shadow engine answers.
var shadowExceptions = map[int]string{
	http.StatusBadRequest:            "InvalidRequestException",
	http.StatusUnauthorized:          "UnauthorizedException",
	http.StatusForbidden:             "ForbiddenException",
	http.StatusNotFound:              "ResourceNotFoundException",
	http.StatusConflict:              "ConflictException",
	http.StatusRequestEntityTooLarge: "RequestEntityTooLargeException",
	http.StatusUnsupportedMediaType:  "UnsupportedDocumentEncodingException",
	http.StatusTooManyRequests:       "ThrottlingException",
	http.StatusInternalServerError:   "InternalFailureException",
}

// shadowError turns a refusal of the shadow engine into the iot-data error with AWS's shadow
// message (e.g. 409 ConflictException "Version conflict"). A status the model has no exception
// for is an InternalFailureException.
func shadowError(e *shadow.Error) *apiError {
	if name, ok := shadowExceptions[e.Code]; ok {
		return &apiError{status: e.Code, name: name, message: e.Message, cause: e}
	}
	return &apiError{status: http.StatusInternalServerError, name: "InternalFailureException",
		message: e.Message, cause: e}
}

// shadowKey reads the shadow a request names: thingName from the path and the optional query
// parameter name (absent: the classic shadow). The engine validates both names; an empty name
// is refused here because the engine would take it for the classic shadow.
func shadowKey(c *call) (shadow.Key, error) {
	key := shadow.Key{Thing: c.vars["thingName"]}
	q := c.r.URL.Query()
	if q.Has("name") {
		key.Name = q.Get("name")
		if key.Name == "" {
			return key, invalidRequest("name: a shadow name must be 1-64 characters; leave name out for the classic shadow")
		}
	}
	return key, nil
}

// shadowPermission is the policy decision a shadow operation needs from a certificate caller.
func shadowPermission(action string, key shadow.Key) permission {
	name := key.Thing
	if key.Name != "" {
		name += "/" + key.Name
	}
	return permission{action, auth.ResourceThing, name}
}

// shadowAnswer is the HTTP answer of a shadow engine result: its raw document on success, its
// refusal as an iot-data error otherwise.
func shadowAnswer(res shadow.Result) (any, error) {
	if res.Err != nil {
		return nil, shadowError(res.Err)
	}
	if res.Status != http.StatusOK {
		return nil, fmt.Errorf("shadow engine answered status %d without an error", res.Status)
	}
	return rawResponse{status: http.StatusOK, contentType: "application/json", body: res.Body}, nil
}

// publishShadow publishes on MQTT what an HTTP request to the shadow engine caused.
func (s *server) publishShadow(res shadow.Result) {
	pubs := res.HTTPPublications()
	if len(pubs) == 0 {
		return
	}
	if s.cfg.ShadowPublish == nil {
		s.log.Debug("api: no shadow publisher configured; publications dropped", "count", len(pubs))
		return
	}
	s.cfg.ShadowPublish(pubs)
}

// prepareShadow does what every single-shadow operation does first: read the shadow's names
// and decide the caller's permission. The routes exist only with a shadow service, so it is
// returned too.
func (s *server) prepareShadow(c *call, action string) (*shadow.Service, shadow.Key, error) {
	key, err := shadowKey(c)
	if err != nil {
		return nil, key, err
	}
	if err := s.authorize(c, shadowPermission(action, key)); err != nil {
		return nil, key, err
	}
	return s.cfg.Shadows, key, nil
}

// getThingShadow is GetThingShadow: GET /things/{thingName}/shadow[?name=].
func (s *server) getThingShadow(c *call) (any, error) {
	svc, key, err := s.prepareShadow(c, actionGetThingShadow)
	if err != nil {
		return nil, err
	}
	return shadowAnswer(svc.Get(key, nil))
}

// updateThingShadow is UpdateThingShadow: POST /things/{thingName}/shadow[?name=], the raw
// body being the request state document. It answers the update/accepted document.
func (s *server) updateThingShadow(c *call) (any, error) {
	svc, key, err := s.prepareShadow(c, actionUpdateThingShadow)
	if err != nil {
		return nil, err
	}
	payload, err := readShadowPayload(c.r)
	if err != nil {
		return nil, err
	}
	res := svc.Update(key, payload)
	if res.Err == nil {
		s.publishShadow(res)
	}
	return shadowAnswer(res)
}

// deleteThingShadow is DeleteThingShadow: DELETE /things/{thingName}/shadow[?name=]. It answers
// {"version","timestamp"}.
func (s *server) deleteThingShadow(c *call) (any, error) {
	svc, key, err := s.prepareShadow(c, actionDeleteThingShadow)
	if err != nil {
		return nil, err
	}
	res := svc.Delete(key, nil)
	if res.Err == nil {
		s.publishShadow(res)
	}
	return shadowAnswer(res)
}

// listNamedShadowsOutput is ListNamedShadowsForThing's JSON.
type listNamedShadowsOutput struct {
	Results   []string `json:"results"`
	NextToken string   `json:"nextToken,omitempty"`
	Timestamp int64    `json:"timestamp"`
}

// listNamedShadowsForThing is ListNamedShadowsForThing:
// GET /api/things/shadow/ListNamedShadowsForThing/{thingName}?nextToken&pageSize.
func (s *server) listNamedShadowsForThing(c *call) (any, error) {
	thing := c.vars["thingName"]
	if err := s.authorize(c, permission{actionListNamedShadowsForThing, "*", ""}); err != nil {
		return nil, err
	}
	pageSize, err := intQuery(c, "pageSize", 1, maxShadowPage, 0)
	if err != nil {
		return nil, err
	}
	names, next, err := s.cfg.Shadows.ListNamed(thing, c.query("nextToken"), pageSize)
	if err != nil {
		var se *shadow.Error
		if errors.As(err, &se) {
			return nil, shadowError(se)
		}
		return nil, fmt.Errorf("list named shadows of %s: %w", thing, err)
	}
	if names == nil {
		names = []string{}
	}
	return listNamedShadowsOutput{Results: names, NextToken: next, Timestamp: s.shadowNow().Unix()}, nil
}

// shadowNow is the clock of ListNamedShadowsForThing's timestamp: the shadow documents' clock.
func (s *server) shadowNow() time.Time {
	if s.cfg.ShadowNow != nil {
		return s.cfg.ShadowNow()
	}
	return time.Now()
}

// readShadowPayload reads the raw request document. It stops one byte past the engine's limit:
// the engine refuses a longer payload with AWS's 413 message.
func readShadowPayload(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, shadow.MaxPayloadBytes+1))
	if err != nil {
		return nil, invalidRequest("reading the shadow document: %v", err)
	}
	return data, nil
}

package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/iotcore-local/iotcore-local/auth"
)

// AWS IoT Core's limits on a published message, the same over HTTP as over MQTT.
const (
	maxPublishPayload = 128 * 1024 // bytes
	maxTopicBytes     = 256        // UTF-8 bytes, Basic Ingest prefix not counted
	maxTopicSlashes   = 7
)

// The MQTT 5 headers of Publish.
const (
	headerUserProperties = "X-Amz-Mqtt5-User-Properties"
	headerPayloadFormat  = "X-Amz-Mqtt5-Payload-Format-Indicator"
	headerCorrelation    = "X-Amz-Mqtt5-Correlation-Data"
)

// publish is Publish: POST /topics/{topic}?qos&retain&contentType&responseTopic&messageExpiry,
// the raw body as payload. It answers 200 with {"message":"OK","traceId":"<uuid>"} once the
// broker has routed the message, the body AWS's HTTPS publish answers (see publishAccepted). An empty payload with retain=true deletes the topic's retained message (and is
// still delivered to subscribers, as over MQTT).
func (s *server) publish(c *call) (any, error) {
	m, err := readMessage(c)
	if err != nil {
		return nil, err
	}
	perms := []permission{{auth.ActionPublish, auth.ResourceTopic, m.Topic}}
	if m.Retain {
		perms = append(perms, permission{auth.ActionRetainPublish, auth.ResourceTopic, m.Topic})
	}
	if err := s.authorize(c, perms...); err != nil {
		return nil, err
	}
	b, err := s.broker()
	if err != nil {
		return nil, err
	}
	if err := b.Publish(c.r.Context(), m); err != nil {
		return nil, fmt.Errorf("publish to %s: %w", m.Topic, err)
	}
	s.log.Debug("api: published", "topic", m.Topic, "qos", m.QoS, "retain", m.Retain, "bytes", len(m.Payload),
		"caller", callerOf(c.r).describe())
	return publishAccepted(), nil
}

// publishAccepted is the 200 of Publish as AWS IoT Core answers it to curl and device HTTPS
// clients: a JSON body with "message":"OK" and a fresh traceId (a UUID), whoever the caller
// (certificate on 443/8443, SigV4, unsigned). Captured AWS answers carry the same UUID as
// x-amzn-RequestId, so this one does too. The SDKs' Publish has no output members and ignores
// the body. See docs/aws-fidelity.md, "HTTPS publish answer".
func publishAccepted() withHeaders {
	trace := uuid.NewString()
	body, _ := json.Marshal(struct {
		Message string `json:"message"`
		TraceID string `json:"traceId"`
	}{"OK", trace})
	return withHeaders{
		header: http.Header{"X-Amzn-Requestid": {trace}},
		body:   rawResponse{status: http.StatusOK, contentType: "application/json", body: body},
	}
}

// emptyBody is the 200 with no body of the data-plane operations without output.
func emptyBody() rawResponse {
	return rawResponse{status: http.StatusOK, contentType: "application/json"}
}

// readMessage reads and checks everything Publish carries.
func readMessage(c *call) (Message, error) {
	m := Message{Topic: c.vars["topic"]}
	if err := checkTopicName("topic", m.Topic); err != nil {
		return m, err
	}
	qos, err := intQuery(c, "qos", 0, 1, 0)
	if err != nil {
		return m, err
	}
	m.QoS = byte(qos)
	if m.Retain, err = boolQuery(c, "retain"); err != nil {
		return m, err
	}
	m.ContentType = c.query("contentType")
	if m.ResponseTopic = c.query("responseTopic"); m.ResponseTopic != "" {
		if err := checkTopicName("responseTopic", m.ResponseTopic); err != nil {
			return m, err
		}
	}
	if v := c.query("messageExpiry"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return m, invalidRequest("messageExpiry: must be a number of seconds between 0 and 4294967295, got %q", v)
		}
		m.MessageExpiry = uint32(n)
	}
	switch v := c.r.Header.Get(headerPayloadFormat); v {
	case "", "UNSPECIFIED_BYTES":
	case "UTF8_DATA":
		m.PayloadFormatUTF8 = true
	default:
		return m, invalidRequest("%s: must be UNSPECIFIED_BYTES or UTF8_DATA, got %q", strings.ToLower(headerPayloadFormat), v)
	}
	if v := c.r.Header.Get(headerCorrelation); v != "" {
		if m.CorrelationData, err = base64.StdEncoding.DecodeString(v); err != nil {
			return m, invalidRequest("%s: must be base64: %v", strings.ToLower(headerCorrelation), err)
		}
	}
	if v := c.r.Header.Get(headerUserProperties); v != "" {
		if m.UserProperties, err = decodeUserProperties(v); err != nil {
			return m, invalidRequest("%s: %v", strings.ToLower(headerUserProperties), err)
		}
	}
	if m.Payload, err = readPayload(c.r); err != nil {
		return m, err
	}
	if m.PayloadFormatUTF8 && !utf8.Valid(m.Payload) {
		return m, invalidRequest("payload: %s is UTF8_DATA but the payload is not valid UTF-8", strings.ToLower(headerPayloadFormat))
	}
	return m, nil
}

// readPayload reads the raw body, refusing one over AWS's 128 KiB message limit with 413.
func readPayload(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxPublishPayload+1))
	if err != nil {
		return nil, invalidRequest("reading payload: %v", err)
	}
	if len(data) > maxPublishPayload {
		return nil, tooLarge("payload larger than %d bytes (128 KiB), AWS IoT Core's message size limit", maxPublishPayload)
	}
	return data, nil
}

// checkTopicName refuses what cannot be an MQTT topic name for AWS IoT Core: empty, a
// wildcard, a NUL, or over AWS's size and depth limits (the Basic Ingest prefix
// $aws/rules/<rule>/ does not count).
func checkTopicName(field, topic string) error {
	switch {
	case topic == "":
		return invalidRequest("%s: required", field)
	case strings.ContainsAny(topic, "+#"):
		return invalidRequest("%s: %q is not a topic name: it contains a wildcard (+ or #)", field, topic)
	case strings.IndexByte(topic, 0) >= 0:
		return invalidRequest("%s: a topic name cannot contain NUL", field)
	case !utf8.ValidString(topic):
		return invalidRequest("%s: a topic name must be UTF-8", field)
	}
	rest := topic
	if after, ok := strings.CutPrefix(rest, "$aws/rules/"); ok {
		if i := strings.IndexByte(after, '/'); i >= 0 {
			rest = after[i+1:]
		}
	}
	if len(rest) > maxTopicBytes {
		return invalidRequest("%s: topic of %d bytes exceeds AWS IoT Core's limit of %d", field, len(rest), maxTopicBytes)
	}
	if n := strings.Count(rest, "/"); n > maxTopicSlashes {
		return invalidRequest("%s: topic %q has %d slashes, more than AWS IoT Core's %d", field, topic, n, maxTopicSlashes)
	}
	return nil
}

// decodeUserProperties reads the base64 of a JSON array of objects whose members are string
// user properties, e.g. [{"deviceName":"alpha"},{"deviceCnt":"45"}]. Order and repeats are
// kept, as MQTT 5 keeps them.
func decodeUserProperties(v string) ([][2]string, error) {
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("must be base64: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	shape := errors.New(`must be a JSON array of objects with string values, e.g. [{"key":"value"}]`)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, shape
	}
	var props [][2]string
	for dec.More() {
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil, shape
		}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, shape
			}
			var val string
			if err := dec.Decode(&val); err != nil {
				return nil, fmt.Errorf("property %q: %w", kt, shape)
			}
			props = append(props, [2]string{kt.(string), val})
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, shape
		}
	}
	if _, err := dec.Token(); err != nil { // ']'
		return nil, shape
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, shape
	}
	return props, nil
}

// encodeUserProperties is the JSON array decodeUserProperties reads, one object per property.
func encodeUserProperties(props [][2]string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, p := range props {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(p[0])
		v, _ := json.Marshal(p[1])
		b.WriteByte('{')
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes()
}

// describe names the caller for logs.
func (c caller) describe() string {
	switch c.kind {
	case callerCertificate:
		return "certificate"
	case callerCustomAuth:
		return "custom-auth:" + c.principal
	case callerSigV4:
		if c.verified {
			return "sigv4:" + c.accessKey
		}
		return "sigv4-unverified:" + c.accessKey
	}
	return "anonymous"
}

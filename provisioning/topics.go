package provisioning

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fxamacker/cbor/v2"

	"github.com/iotcore-local/iotcore-local/internal/devicejson"
)

// Operation is a device request of the fleet provisioning MQTT API.
type Operation string

// The device operations.
const (
	OpCreateKeysAndCertificate Operation = "CreateKeysAndCertificate"
	OpCreateCertificateFromCSR Operation = "CreateCertificateFromCsr"
	OpRegisterThing            Operation = "RegisterThing"
)

// Request is a parsed request topic.
type Request struct {
	Op       Operation
	Template string // RegisterThing only
	Format   string // "json" or "cbor"
}

// maxRequestPayload bounds what a request may carry (a CSR is a few KB; AWS's own message
// limit is 128 KB).
const maxRequestPayload = 128 * 1024

// ParseTopic recognises a request topic:
// $aws/certificates/create/{json,cbor}, $aws/certificates/create-from-csr/{json,cbor} and
// $aws/provisioning-templates/{name}/provision/{json,cbor}.
func ParseTopic(topic string) (Request, bool) {
	if !strings.HasPrefix(topic, "$aws/") {
		return Request{}, false
	}
	if rest, ok := strings.CutPrefix(topic, "$aws/certificates/"); ok {
		switch rest {
		case "create/json", "create/cbor":
			return Request{Op: OpCreateKeysAndCertificate, Format: rest[len("create/"):]}, true
		case "create-from-csr/json", "create-from-csr/cbor":
			return Request{Op: OpCreateCertificateFromCSR, Format: rest[len("create-from-csr/"):]}, true
		}
		return Request{}, false
	}
	if rest, ok := strings.CutPrefix(topic, "$aws/provisioning-templates/"); ok {
		name, tail, ok := strings.Cut(rest, "/")
		if !ok || name == "" {
			return Request{}, false
		}
		switch tail {
		case "provision/json", "provision/cbor":
			return Request{Op: OpRegisterThing, Template: name, Format: tail[len("provision/"):]}, true
		}
	}
	return Request{}, false
}

// Caller is the connection a request came from.
type Caller struct {
	ClientID      string
	CertificateID string
}

// Answer is the response to one request: its topic (the request topic + /accepted or
// /rejected) and payload in the request's format.
type Answer struct {
	Topic    string
	Payload  []byte
	Accepted bool
	Err      *DeviceError // set when rejected
}

// The response documents. Field names are AWS's; CBOR encodes every string as a text string.
type (
	createAccepted struct {
		CertificateID  string `json:"certificateId" cbor:"certificateId"`
		CertificatePEM string `json:"certificatePem" cbor:"certificatePem"`
		PrivateKey     string `json:"privateKey,omitempty" cbor:"privateKey,omitempty"`
		Token          string `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
	}
	registerAccepted struct {
		DeviceConfiguration map[string]string `json:"deviceConfiguration" cbor:"deviceConfiguration"`
		ThingName           string            `json:"thingName,omitempty" cbor:"thingName,omitempty"`
	}
	csrRequest struct {
		CSR string `json:"certificateSigningRequest" cbor:"certificateSigningRequest"`
	}
	registerRequest struct {
		Token      string         `json:"certificateOwnershipToken" cbor:"certificateOwnershipToken"`
		Parameters map[string]any `json:"parameters" cbor:"parameters"`
	}
)

// Handle serves one device request published on topic and returns the answer to send to the
// requester only.
func (s *Service) Handle(ctx context.Context, topic string, payload []byte, caller Caller) (Answer, bool) {
	req, ok := ParseTopic(topic)
	if !ok {
		return Answer{}, false
	}
	doc, err := s.serve(ctx, req, payload, caller)
	var de *DeviceError
	if err != nil && !errors.As(err, &de) {
		de = deviceError(500, CodeInternalFailure, "internal failure")
	}
	if de != nil {
		data, _ := encode(req.Format, de)
		return Answer{Topic: topic + "/rejected", Payload: data, Err: de}, true
	}
	data, err := encode(req.Format, doc)
	if err != nil {
		de = deviceError(500, CodeInternalFailure, "could not encode the answer")
		data, _ = encode(req.Format, de)
		return Answer{Topic: topic + "/rejected", Payload: data, Err: de}, true
	}
	return Answer{Topic: topic + "/accepted", Payload: data, Accepted: true}, true
}

func (s *Service) serve(ctx context.Context, req Request, payload []byte, caller Caller) (any, error) {
	if len(payload) > maxRequestPayload {
		return nil, deviceError(400, CodeInvalidPayload, "the request is larger than %d bytes", maxRequestPayload)
	}
	switch req.Op {
	case OpCreateKeysAndCertificate:
		// The request is empty or an empty object; anything else must at least decode.
		var ignored map[string]any
		if err := decode(req.Format, payload, &ignored, true); err != nil {
			return nil, err
		}
		nc, err := s.CreateKeysAndCertificate()
		if err != nil {
			return nil, err
		}
		return createAccepted{CertificateID: nc.CertificateID, CertificatePEM: nc.CertificatePEM, PrivateKey: nc.PrivateKey, Token: nc.Token}, nil
	case OpCreateCertificateFromCSR:
		var in csrRequest
		if err := decode(req.Format, payload, &in, false); err != nil {
			return nil, err
		}
		nc, err := s.CreateCertificateFromCSR(in.CSR)
		if err != nil {
			return nil, err
		}
		return createAccepted{CertificateID: nc.CertificateID, CertificatePEM: nc.CertificatePEM, Token: nc.Token}, nil
	case OpRegisterThing:
		var in registerRequest
		if err := decode(req.Format, payload, &in, false); err != nil {
			return nil, err
		}
		params := make(map[string]string, len(in.Parameters))
		for k, v := range in.Parameters {
			str, ok := scalar(v)
			if !ok {
				if n, isInt := v.(uint64); isInt {
					str, ok = fmt.Sprint(n), true
				} else if n, isInt := v.(int64); isInt {
					str, ok = fmt.Sprint(n), true
				}
			}
			if !ok {
				return nil, deviceError(400, CodeInvalidPayload, "parameters.%s must be a string", k)
			}
			params[k] = str
		}
		res, err := s.RegisterThing(ctx, RegisterRequest{
			TemplateName: req.Template, Token: in.Token, Parameters: params,
			ClaimCertificateID: caller.CertificateID, ClientID: caller.ClientID,
		})
		if err != nil {
			return nil, err
		}
		return registerAccepted{DeviceConfiguration: res.DeviceConfiguration, ThingName: res.ThingName}, nil
	}
	return nil, deviceError(400, CodeInvalidPayload, "unknown operation")
}

// decode reads a JSON or CBOR request. Trailing NUL bytes and whitespace after JSON are
// tolerated (C devices send them); an empty payload is allowed only when emptyOK.
func decode(format string, payload []byte, v any, emptyOK bool) error {
	if format == "json" {
		payload = devicejson.TrimTrailing(payload)
	}
	if len(payload) == 0 {
		if emptyOK {
			return nil
		}
		return deviceError(400, CodeInvalidPayload, "the request payload is empty")
	}
	if format == "cbor" {
		if err := cborDec.Unmarshal(payload, v); err != nil {
			return deviceError(400, CodeInvalidPayload, "the request is not a valid CBOR map: %v", err)
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(v); err != nil {
		return deviceError(400, CodeInvalidPayload, "the request is not a valid JSON object: %v", err)
	}
	if dec.More() {
		return deviceError(400, CodeInvalidPayload, "unexpected data after the JSON object")
	}
	return nil
}

// cborDec accepts byte strings where text is expected (some encoders send them).
var cborDec, _ = cbor.DecOptions{ByteStringToString: cbor.ByteStringToStringAllowed, MaxNestedLevels: 16, MaxMapPairs: 1024, MaxArrayElements: 1024}.DecMode()

// cborEnc encodes maps with sorted keys so answers are deterministic.
var cborEnc, _ = cbor.EncOptions{Sort: cbor.SortCanonical}.EncMode()

func encode(format string, v any) ([]byte, error) {
	if format == "cbor" {
		return cborEnc.Marshal(v)
	}
	return json.Marshal(v)
}

package jobs

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/iotcore-local/iotcore-local/internal/devicejson"
)

// The MQTT device API. A request published on $aws/things/{thing}/jobs/{get | start-next |
// {jobId}/get | {jobId}/update} is answered on the request topic + /accepted or /rejected, to
// the requester only.

const topicPrefix = "$aws/things/"

// IsRequestTopic reports whether topic is under $aws/things/{thing}/jobs/ and is not one of the
// service's own answer or notification topics (which devices subscribe to, never send on).
func IsRequestTopic(topic string) bool {
	rest, ok := strings.CutPrefix(topic, topicPrefix)
	if !ok {
		return false
	}
	_, after, ok := strings.Cut(rest, "/jobs/")
	if !ok || strings.Contains(rest[:len(rest)-len(after)-len("/jobs/")], "/") {
		return false
	}
	if after == "notify" || after == "notify-next" || strings.HasSuffix(after, "/accepted") || strings.HasSuffix(after, "/rejected") ||
		strings.Contains(after, "/notify-namespace-") {
		return false
	}
	return true
}

// Reply is the answer to an MQTT request.
type Reply struct {
	Topic   string
	Payload []byte
	// Code is the rejection code ("" when accepted), for logs.
	Code string
}

// request holds the members of every device request (each operation reads its own).
type request struct {
	ClientToken              *string           `json:"clientToken"`
	StatusDetails            map[string]string `json:"statusDetails"`
	StepTimeoutInMinutes     *int64            `json:"stepTimeoutInMinutes"`
	ExecutionNumber          *int64            `json:"executionNumber"`
	IncludeJobDocument       *bool             `json:"includeJobDocument"`
	IncludeJobExecutionState bool              `json:"includeJobExecutionState"`
	Status                   string            `json:"status"`
	ExpectedVersion          *flexInt          `json:"expectedVersion"`
}

// flexInt is a number sent as a JSON number or as a string of digits (the Embedded C SDK sends
// "expectedVersion":"2").
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: nil, Field: "expectedVersion"}
	}
	*f = flexInt(n)
	return nil
}

// HandleMQTT answers a request published on topic (IsRequestTopic). It returns the reply for
// the requester and the messages the request caused (notify, notify-next, events), to publish
// after the reply.
func (s *Service) HandleMQTT(topic string, payload []byte) (Reply, []Publication) {
	rest := strings.TrimPrefix(topic, topicPrefix)
	thing, op, _ := strings.Cut(rest, "/jobs/")
	now := s.now()

	reject := func(token *string, de *DeviceError) (Reply, []Publication) {
		return s.rejected(topic, token, de, now.Unix()), nil
	}
	payload = devicejson.TrimTrailing(payload)
	var req request
	if len(payload) > 0 {
		if !utf8.Valid(payload) {
			return reject(nil, deviceError(CodeInvalidJSON, "The payload is not valid UTF-8"))
		}
		if err := json.Unmarshal(payload, &req); err != nil {
			var te *json.UnmarshalTypeError
			if ok := asTypeError(err, &te); ok {
				if te.Field == "" {
					return reject(nil, deviceError(CodeInvalidRequest, "The payload must be a JSON object, not a JSON %s", te.Value))
				}
				return reject(peekToken(payload), deviceError(CodeInvalidRequest, "%s: wrong type (%s)", te.Field, te.Value))
			}
			return reject(nil, deviceError(CodeInvalidJSON, "The payload is not valid JSON: %v", err))
		}
	}
	if !thingNameRE.MatchString(thing) {
		return reject(req.ClientToken, deviceError(CodeInvalidTopic, "%q is not a valid thing name", thing))
	}
	var jobID, verb string
	switch op {
	case "get", "start-next":
		verb = op
	default:
		var ok bool
		jobID, verb, ok = strings.Cut(op, "/")
		if !ok || (verb != "get" && verb != "update") || (jobID != "$next" && !jobIDRE.MatchString(jobID)) ||
			(jobID == "$next" && verb != "get") {
			return reject(req.ClientToken, deviceError(CodeInvalidTopic, "%s is not a jobs API topic", topic))
		}
	}
	ts := now.Unix()
	accepted := func(body map[string]any) (Reply, []Publication) {
		body["timestamp"] = ts
		if req.ClientToken != nil {
			body["clientToken"] = *req.ClientToken
		}
		data, _ := json.Marshal(body)
		return Reply{Topic: topic + "/accepted", Payload: data}, nil
	}
	switch {
	case verb == "get" && jobID == "":
		inProgress, queued, err := s.PendingExecutions(thing)
		if err != nil {
			return reject(req.ClientToken, asDeviceError(err))
		}
		return accepted(map[string]any{"inProgressJobs": summaries(inProgress), "queuedJobs": summaries(queued)})
	case verb == "start-next":
		v, pubs, err := s.StartNext(thing, StartNextInput{StatusDetails: req.StatusDetails, StepTimeoutInMinutes: req.StepTimeoutInMinutes})
		if err != nil {
			return reject(req.ClientToken, asDeviceError(err))
		}
		body := map[string]any{}
		if v != nil {
			body["execution"] = s.wireView(v)
		}
		r, _ := accepted(body)
		return r, pubs
	case verb == "get":
		withDoc := req.IncludeJobDocument == nil || *req.IncludeJobDocument
		var n int64
		if req.ExecutionNumber != nil {
			n = *req.ExecutionNumber
		}
		v, err := s.Describe(thing, jobID, n, withDoc)
		if err != nil {
			return reject(req.ClientToken, asDeviceError(err))
		}
		body := map[string]any{}
		if v != nil {
			body["execution"] = s.wireView(v)
		}
		return accepted(body)
	default: // update
		in := UpdateInput{
			Status: ExecStatus(req.Status), StatusDetails: req.StatusDetails, StepTimeoutInMinutes: req.StepTimeoutInMinutes,
			IncludeJobExecutionState: req.IncludeJobExecutionState,
			IncludeJobDocument:       req.IncludeJobDocument != nil && *req.IncludeJobDocument,
		}
		if req.ExpectedVersion != nil {
			v := int64(*req.ExpectedVersion)
			in.ExpectedVersion = &v
		}
		if req.ExecutionNumber != nil {
			in.ExecutionNumber = *req.ExecutionNumber
		}
		res, pubs, err := s.Update(thing, jobID, in)
		if err != nil {
			return reject(req.ClientToken, asDeviceError(err))
		}
		body := map[string]any{}
		if res.State != nil {
			body["executionState"] = res.State
		}
		if res.HasDoc {
			body["jobDocument"] = json.RawMessage(res.Document)
		}
		r, _ := accepted(body)
		return r, pubs
	}
}

func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// peekToken reads the clientToken of a payload that did not decode as a whole.
func peekToken(payload []byte) *string {
	var t struct {
		ClientToken *string `json:"clientToken"`
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	if dec.Decode(&t) != nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(payload, &m) == nil {
			var s string
			if json.Unmarshal(m["clientToken"], &s) == nil {
				return &s
			}
		}
		return nil
	}
	return t.ClientToken
}

func summaries(l []*Execution) []wireSummary {
	out := make([]wireSummary, 0, len(l))
	for _, e := range l {
		out = append(out, summaryOf(e))
	}
	return out
}

func (s *Service) wireView(v *ExecutionView) wireExecution {
	e := v.Execution
	w := wireExecution{
		JobID: e.JobID, Status: e.Status, StatusDetails: e.StatusDetails,
		QueuedAt: unix(e.QueuedAt), StartedAt: unix(e.StartedAt), LastUpdatedAt: unix(e.LastUpdatedAt),
		VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
	}
	if v.Document != "" {
		w.JobDocument = json.RawMessage(v.Document)
	}
	return w
}

// rejected builds the …/rejected reply: code, message, clientToken (when the request had one),
// timestamp, and executionState for VersionMismatch and InvalidStateTransition.
func (s *Service) rejected(topic string, token *string, de *DeviceError, ts int64) Reply {
	body := struct {
		Code           string          `json:"code"`
		Message        string          `json:"message"`
		ClientToken    *string         `json:"clientToken,omitempty"`
		Timestamp      int64           `json:"timestamp"`
		ExecutionState *ExecutionState `json:"executionState,omitempty"`
	}{de.Code, de.Message, token, ts, de.State}
	data, _ := json.Marshal(body)
	return Reply{Topic: topic + "/rejected", Payload: data, Code: de.Code}
}

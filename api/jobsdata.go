package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/internal/devicejson"
	"github.com/iotcore-local/iotcore-local/jobs"
)

// This file serves the jobs device API over HTTPS (service iot-jobs-data, rest-json):
// GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution and
// UpdateJobExecution. A device calls it with its certificate (8443, or 443 with ALPN
// x-amzn-http-ca) and is authorised by its policies on thing/<thingName>, with the action
// prefixed iotjobsdata: or iot: (AWS's documents name both); a SigV4 caller is allowed, as on
// the rest of the emulator. The job document is a string here, not an object as over MQTT, and
// times are epoch seconds.

func (s *server) addJobsDataRoutes(rt *router) {
	rt.add(http.MethodGet, "/things/{thingName}/jobs", "GetPendingJobExecutions", s.getPendingJobExecutions)
	rt.add(http.MethodPut, "/things/{thingName}/jobs/$next", "StartNextPendingJobExecution", s.startNextPendingJobExecution)
	rt.add(http.MethodGet, "/things/{thingName}/jobs/{jobId}", "DescribeJobExecution", s.describeJobExecutionData)
	rt.add(http.MethodPost, "/things/{thingName}/jobs/{jobId}", "UpdateJobExecution", s.updateJobExecution)
}

// authorizeJobs decides a jobs data-plane action on the thing for a certificate caller,
// accepting either prefix.
func (s *server) authorizeJobs(c *call, action string) error {
	thing := c.vars["thingName"]
	first := s.authorize(c, permission{"iotjobsdata:" + action, auth.ResourceThing, thing})
	if first == nil {
		return nil
	}
	if s.authorize(c, permission{"iot:" + action, auth.ResourceThing, thing}) == nil {
		return nil
	}
	return first
}

// deviceAPIError is the iot-jobs-data error of a device refusal.
func deviceAPIError(err error) error {
	var de *jobs.DeviceError
	if !errors.As(err, &de) {
		return err
	}
	status, name := de.HTTP()
	return &apiError{status: status, name: name, message: de.Message, cause: err}
}

// prepareJobsData does what each operation does first.
func (s *server) prepareJobsData(c *call, action string) (*jobs.Service, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	return svc, s.authorizeJobs(c, action)
}

type dataSummary struct {
	JobID           string `json:"jobId"`
	QueuedAt        int64  `json:"queuedAt"`
	StartedAt       int64  `json:"startedAt,omitempty"`
	LastUpdatedAt   int64  `json:"lastUpdatedAt"`
	VersionNumber   int64  `json:"versionNumber"`
	ExecutionNumber int64  `json:"executionNumber"`
}

func secs(e *jobs.Execution) (q, st, l int64) {
	q, l = e.QueuedAt.Unix(), e.LastUpdatedAt.Unix()
	if !e.StartedAt.IsZero() {
		st = e.StartedAt.Unix()
	}
	return
}

func dataSummaries(l []*jobs.Execution) []dataSummary {
	out := make([]dataSummary, 0, len(l))
	for _, e := range l {
		q, st, lu := secs(e)
		out = append(out, dataSummary{e.JobID, q, st, lu, e.VersionNumber, e.ExecutionNumber})
	}
	return out
}

type dataExecution struct {
	JobID                 string            `json:"jobId"`
	ThingName             string            `json:"thingName"`
	Status                jobs.ExecStatus   `json:"status"`
	StatusDetails         map[string]string `json:"statusDetails,omitempty"`
	QueuedAt              int64             `json:"queuedAt"`
	StartedAt             int64             `json:"startedAt,omitempty"`
	LastUpdatedAt         int64             `json:"lastUpdatedAt"`
	SecondsBeforeTimedOut *int64            `json:"approximateSecondsBeforeTimedOut,omitempty"`
	VersionNumber         int64             `json:"versionNumber"`
	ExecutionNumber       int64             `json:"executionNumber"`
	JobDocument           string            `json:"jobDocument,omitempty"`
}

func dataExec(v *jobs.ExecutionView) *dataExecution {
	if v == nil {
		return nil
	}
	e := v.Execution
	q, st, l := secs(e)
	return &dataExecution{JobID: e.JobID, ThingName: e.ThingName, Status: e.Status, StatusDetails: e.StatusDetails,
		QueuedAt: q, StartedAt: st, LastUpdatedAt: l, SecondsBeforeTimedOut: v.SecondsBeforeTimedOut,
		VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber, JobDocument: v.Document}
}

func (s *server) getPendingJobExecutions(c *call) (any, error) {
	svc, err := s.prepareJobsData(c, "GetPendingJobExecutions")
	if err != nil {
		return nil, err
	}
	inProgress, queued, err := svc.PendingExecutions(c.vars["thingName"])
	if err != nil {
		return nil, deviceAPIError(err)
	}
	return struct {
		InProgress []dataSummary `json:"inProgressJobs"`
		Queued     []dataSummary `json:"queuedJobs"`
	}{dataSummaries(inProgress), dataSummaries(queued)}, nil
}

// readDeviceBody decodes a device request body into v: JSON, trailing NULs and whitespace
// tolerated, 64 KiB at most.
func readDeviceBody(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		return invalidRequest("reading body: %v", err)
	}
	if len(data) > 64<<10 {
		return invalidRequest("request body larger than 64 KiB")
	}
	data = devicejson.TrimTrailing(data)
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return bodyError(err)
	}
	return nil
}

func (s *server) startNextPendingJobExecution(c *call) (any, error) {
	svc, err := s.prepareJobsData(c, "StartNextPendingJobExecution")
	if err != nil {
		return nil, err
	}
	var in struct {
		StatusDetails        map[string]string `json:"statusDetails"`
		StepTimeoutInMinutes *int64            `json:"stepTimeoutInMinutes"`
	}
	if err := readDeviceBody(c.r, &in); err != nil {
		return nil, err
	}
	v, pubs, err := svc.StartNext(c.vars["thingName"], jobs.StartNextInput{StatusDetails: in.StatusDetails, StepTimeoutInMinutes: in.StepTimeoutInMinutes})
	if err != nil {
		return nil, deviceAPIError(err)
	}
	svc.Emit(pubs)
	return struct {
		Execution *dataExecution `json:"execution,omitempty"`
	}{dataExec(v)}, nil
}

func (s *server) describeJobExecutionData(c *call) (any, error) {
	svc, err := s.prepareJobsData(c, "DescribeJobExecution")
	if err != nil {
		return nil, err
	}
	withDoc, err := boolQuery(c, "includeJobDocument")
	if err != nil {
		return nil, err
	}
	if c.query("includeJobDocument") == "" {
		withDoc = true
	}
	var n int64
	if q := c.query("executionNumber"); q != "" {
		if n, err = strconv.ParseInt(q, 10, 64); err != nil || n < 1 {
			return nil, invalidRequest("executionNumber: must be a positive integer, got %q", q)
		}
	}
	v, err := svc.Describe(c.vars["thingName"], c.vars["jobId"], n, withDoc)
	if err != nil {
		return nil, deviceAPIError(err)
	}
	return struct {
		Execution *dataExecution `json:"execution,omitempty"`
	}{dataExec(v)}, nil
}

// flexVersion accepts expectedVersion as a number or a string of digits.
type flexVersion int64

func (f *flexVersion) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string", Type: nil, Field: "expectedVersion"}
	}
	*f = flexVersion(n)
	return nil
}

func (s *server) updateJobExecution(c *call) (any, error) {
	svc, err := s.prepareJobsData(c, "UpdateJobExecution")
	if err != nil {
		return nil, err
	}
	var in struct {
		Status                   string            `json:"status"`
		StatusDetails            map[string]string `json:"statusDetails"`
		StepTimeoutInMinutes     *int64            `json:"stepTimeoutInMinutes"`
		ExpectedVersion          *flexVersion      `json:"expectedVersion"`
		IncludeJobExecutionState bool              `json:"includeJobExecutionState"`
		IncludeJobDocument       bool              `json:"includeJobDocument"`
		ExecutionNumber          int64             `json:"executionNumber"`
	}
	if err := readDeviceBody(c.r, &in); err != nil {
		return nil, err
	}
	up := jobs.UpdateInput{Status: jobs.ExecStatus(in.Status), StatusDetails: in.StatusDetails,
		StepTimeoutInMinutes: in.StepTimeoutInMinutes, ExecutionNumber: in.ExecutionNumber,
		IncludeJobExecutionState: in.IncludeJobExecutionState, IncludeJobDocument: in.IncludeJobDocument}
	if in.ExpectedVersion != nil {
		v := int64(*in.ExpectedVersion)
		up.ExpectedVersion = &v
	}
	res, pubs, err := svc.Update(c.vars["thingName"], c.vars["jobId"], up)
	if err != nil {
		return nil, deviceAPIError(err)
	}
	svc.Emit(pubs)
	return struct {
		State       *jobs.ExecutionState `json:"executionState,omitempty"`
		JobDocument string               `json:"jobDocument,omitempty"`
	}{res.State, res.Document}, nil
}

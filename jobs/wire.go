package jobs

import (
	"encoding/json"
	"time"
)

// The MQTT shapes of the device API. Times are epoch seconds (integers), as real AWS sends
// them and the SDKs parse them; the job document is a JSON object; thingName is left out, as in
// real captures.

// wireSummary is a JobExecutionSummary (get, notify).
type wireSummary struct {
	JobID           string `json:"jobId"`
	QueuedAt        int64  `json:"queuedAt"`
	StartedAt       int64  `json:"startedAt,omitempty"`
	LastUpdatedAt   int64  `json:"lastUpdatedAt"`
	VersionNumber   int64  `json:"versionNumber"`
	ExecutionNumber int64  `json:"executionNumber"`
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func summaryOf(e *Execution) wireSummary {
	return wireSummary{
		JobID: e.JobID, QueuedAt: unix(e.QueuedAt), StartedAt: unix(e.StartedAt),
		LastUpdatedAt: unix(e.LastUpdatedAt), VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
	}
}

// wireExecution is a JobExecution (start-next, {jobId}/get, notify-next).
type wireExecution struct {
	JobID           string            `json:"jobId"`
	Status          ExecStatus        `json:"status"`
	StatusDetails   map[string]string `json:"statusDetails,omitempty"`
	QueuedAt        int64             `json:"queuedAt"`
	StartedAt       int64             `json:"startedAt,omitempty"`
	LastUpdatedAt   int64             `json:"lastUpdatedAt"`
	VersionNumber   int64             `json:"versionNumber"`
	ExecutionNumber int64             `json:"executionNumber"`
	JobDocument     json.RawMessage   `json:"jobDocument,omitempty"`
}

// wireExec encodes an execution; the document is the job's, with presigned URLs in place.
func (s *Service) wireExec(e *Execution, j *Job, withDoc bool, now time.Time) wireExecution {
	w := wireExecution{
		JobID: e.JobID, Status: e.Status, StatusDetails: e.StatusDetails,
		QueuedAt: unix(e.QueuedAt), StartedAt: unix(e.StartedAt), LastUpdatedAt: unix(e.LastUpdatedAt),
		VersionNumber: e.VersionNumber, ExecutionNumber: e.ExecutionNumber,
	}
	if withDoc && j != nil {
		w.JobDocument = json.RawMessage(s.deviceDocument(j, now))
	}
	return w
}

// ExecutionState is the executionState of update replies and of rejections.
type ExecutionState struct {
	Status        ExecStatus        `json:"status"`
	StatusDetails map[string]string `json:"statusDetails,omitempty"`
	VersionNumber int64             `json:"versionNumber"`
}

func stateOf(e *Execution) *ExecutionState {
	return &ExecutionState{Status: e.Status, StatusDetails: e.StatusDetails, VersionNumber: e.VersionNumber}
}

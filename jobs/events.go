package jobs

import (
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// Jobs events ($aws/events/job/<jobId>/<operation> and $aws/events/jobExecution/<jobId>/<status>)
// are published only while UpdateEventConfigurations has switched JOB or JOB_EXECUTION on. As in
// AWS's examples, timestamp is in seconds and createdAt/lastUpdatedAt/completedAt in
// milliseconds.

type jobEventPayload struct {
	EventType       string          `json:"eventType"`
	EventID         string          `json:"eventId"`
	Timestamp       int64           `json:"timestamp"`
	Operation       string          `json:"operation"`
	JobID           string          `json:"jobId"`
	Status          string          `json:"status"`
	TargetSelection string          `json:"targetSelection"`
	Targets         []string        `json:"targets"`
	Description     string          `json:"description,omitempty"`
	CreatedAt       int64           `json:"createdAt"`
	LastUpdatedAt   int64           `json:"lastUpdatedAt"`
	CompletedAt     int64           `json:"completedAt,omitempty"`
	Comment         string          `json:"comment,omitempty"`
	ProcessDetails  *ProcessDetails `json:"jobProcessDetails,omitempty"`
}

// jobEvent queues the JOB event of operation (completed, canceled, deleted).
func (s *Service) jobEvent(fx *effects, j *Job, operation string) {
	if !s.dir.EventEnabled("JOB") {
		return
	}
	p := jobEventPayload{
		EventType: "JOB", EventID: uuid.NewString(), Timestamp: fx.now.Unix(), Operation: operation,
		JobID: j.JobID, Status: strings.ToUpper(operation), TargetSelection: j.TargetSelection,
		Targets: j.Targets, Description: j.Description,
		CreatedAt: j.CreatedAt.UnixMilli(), LastUpdatedAt: j.LastUpdatedAt.UnixMilli(),
	}
	switch operation {
	case "completed":
		p.CompletedAt = j.CompletedAt.UnixMilli()
		d := j.ProcessDetails()
		p.ProcessDetails = &d
	case "deleted":
		p.Comment = j.Comment
	}
	data, _ := json.Marshal(p)
	fx.pubs = append(fx.pubs, Publication{Topic: "$aws/events/job/" + j.JobID + "/" + operation, Payload: data})
}

type execEventPayload struct {
	EventType     string            `json:"eventType"`
	EventID       string            `json:"eventId"`
	Timestamp     int64             `json:"timestamp"`
	Operation     string            `json:"operation"`
	JobID         string            `json:"jobId"`
	ThingARN      string            `json:"thingArn"`
	Status        ExecStatus        `json:"status"`
	StatusDetails map[string]string `json:"statusDetails"`
}

// execEvent queues the JOB_EXECUTION event of an execution that reached a terminal status.
func (s *Service) execEvent(fx *effects, j *Job, e *Execution) {
	s.execEventOp(fx, j, e, strings.ToLower(string(e.Status)))
}

func (s *Service) execEventOp(fx *effects, j *Job, e *Execution, operation string) {
	if !s.dir.EventEnabled("JOB_EXECUTION") {
		return
	}
	details := e.StatusDetails
	if details == nil {
		details = map[string]string{}
	}
	data, _ := json.Marshal(execEventPayload{
		EventType: "JOB_EXECUTION", EventID: uuid.NewString(), Timestamp: fx.now.Unix(), Operation: operation,
		JobID: j.JobID, ThingARN: s.ThingARN(e.ThingName), Status: e.Status, StatusDetails: details,
	})
	fx.pubs = append(fx.pubs, Publication{Topic: "$aws/events/jobExecution/" + j.JobID + "/" + operation, Payload: data})
}

// Package jobs is the AWS IoT Jobs service of the emulator: jobs, job executions and job
// templates, the execution state machine with AWS's statuses and versions, rollouts, timeouts,
// retries, abort criteria and scheduling, kept in one bbolt file so that jobs and their timers
// survive a restart. It speaks neither MQTT nor HTTP: the hooks package gives it its MQTT face
// ($aws/things/{thing}/jobs/...), the api package its HTTP faces (the iot control plane and the
// iot-jobs-data device plane). Messages it causes (notify, notify-next, $aws/events/job...) go
// out through the Publish function of its Options.
//
// Where AWS's documentation leaves a rule open, the choice is explained beside the code and in
// docs/jobs.md.
package jobs

import "time"

// ExecStatus is a job execution's status (AWS's JobExecutionStatus enum).
type ExecStatus string

// The execution statuses.
const (
	Queued     ExecStatus = "QUEUED"
	InProgress ExecStatus = "IN_PROGRESS"
	Succeeded  ExecStatus = "SUCCEEDED"
	Failed     ExecStatus = "FAILED"
	TimedOut   ExecStatus = "TIMED_OUT"
	Rejected   ExecStatus = "REJECTED"
	Removed    ExecStatus = "REMOVED"
	Canceled   ExecStatus = "CANCELED"
)

// ExecStatuses lists every execution status.
var ExecStatuses = []ExecStatus{Queued, InProgress, Succeeded, Failed, TimedOut, Rejected, Removed, Canceled}

// Terminal reports whether no further transition is possible (all but QUEUED and IN_PROGRESS).
func (s ExecStatus) Terminal() bool { return s != Queued && s != InProgress }

// Valid reports whether s is one of the eight statuses.
func (s ExecStatus) Valid() bool {
	for _, v := range ExecStatuses {
		if v == s {
			return true
		}
	}
	return false
}

// JobStatus is a job's status (AWS's JobStatus enum).
type JobStatus string

// The job statuses.
const (
	JobInProgress         JobStatus = "IN_PROGRESS"
	JobCanceled           JobStatus = "CANCELED"
	JobCompleted          JobStatus = "COMPLETED"
	JobDeletionInProgress JobStatus = "DELETION_IN_PROGRESS"
	JobScheduled          JobStatus = "SCHEDULED"
)

// Target selections.
const (
	Snapshot   = "SNAPSHOT"
	Continuous = "CONTINUOUS"
)

// PresignedURLConfig is the job's presignedUrlConfig.
type PresignedURLConfig struct {
	RoleARN      string `json:"roleArn,omitempty"`
	ExpiresInSec *int64 `json:"expiresInSec,omitempty"`
}

// RolloutConfig is jobExecutionsRolloutConfig: a constant or an exponential rate of things
// notified per minute.
type RolloutConfig struct {
	MaximumPerMinute *int64           `json:"maximumPerMinute,omitempty"`
	ExponentialRate  *ExponentialRate `json:"exponentialRate,omitempty"`
}

// ExponentialRate starts at BaseRatePerMinute and multiplies it by IncrementFactor each time the
// criteria are met.
type ExponentialRate struct {
	BaseRatePerMinute    int64                `json:"baseRatePerMinute"`
	IncrementFactor      float64              `json:"incrementFactor"`
	RateIncreaseCriteria RateIncreaseCriteria `json:"rateIncreaseCriteria"`
}

// RateIncreaseCriteria is one of: so many things notified, or so many succeeded.
type RateIncreaseCriteria struct {
	NumberOfNotifiedThings  *int64 `json:"numberOfNotifiedThings,omitempty"`
	NumberOfSucceededThings *int64 `json:"numberOfSucceededThings,omitempty"`
}

// AbortConfig cancels the job when enough executions fail.
type AbortConfig struct {
	CriteriaList []AbortCriteria `json:"criteriaList"`
}

// AbortCriteria is one abort rule.
type AbortCriteria struct {
	FailureType               string  `json:"failureType"`
	Action                    string  `json:"action"`
	ThresholdPercentage       float64 `json:"thresholdPercentage"`
	MinNumberOfExecutedThings int64   `json:"minNumberOfExecutedThings"`
}

// TimeoutConfig bounds the time an execution may stay IN_PROGRESS.
type TimeoutConfig struct {
	InProgressTimeoutInMinutes *int64 `json:"inProgressTimeoutInMinutes,omitempty"`
}

// RetryConfig is jobExecutionsRetryConfig.
type RetryConfig struct {
	CriteriaList []RetryCriteria `json:"criteriaList"`
}

// RetryCriteria allows NumberOfRetries new attempts after a failure of FailureType.
type RetryCriteria struct {
	FailureType     string `json:"failureType"`
	NumberOfRetries int64  `json:"numberOfRetries"`
}

// SchedulingConfig delays a job's rollout to StartTime and ends it at EndTime.
type SchedulingConfig struct {
	StartTime          string              `json:"startTime,omitempty"`
	EndTime            string              `json:"endTime,omitempty"`
	EndBehavior        string              `json:"endBehavior,omitempty"`
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`
}

// MaintenanceWindow is stored and reported; rollouts are not confined to it (docs/jobs.md).
type MaintenanceWindow struct {
	StartTime         string `json:"startTime"`
	DurationInMinutes int64  `json:"durationInMinutes"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value,omitempty"`
}

// Job is a stored job.
type Job struct {
	JobID              string              `json:"jobId"`
	JobARN             string              `json:"jobArn"`
	TargetSelection    string              `json:"targetSelection"`
	Status             JobStatus           `json:"status"`
	ForceCanceled      bool                `json:"forceCanceled,omitempty"`
	ReasonCode         string              `json:"reasonCode,omitempty"`
	Comment            string              `json:"comment,omitempty"`
	Targets            []string            `json:"targets"`
	Description        string              `json:"description,omitempty"`
	Document           string              `json:"document"`    // after parameter substitution
	RawDocument        string              `json:"rawDocument"` // before substitution
	DocumentSource     string              `json:"documentSource,omitempty"`
	DocumentParameters map[string]string   `json:"documentParameters,omitempty"`
	PresignedURLConfig *PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	Rollout            *RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort              *AbortConfig        `json:"abortConfig,omitempty"`
	Timeout            *TimeoutConfig      `json:"timeoutConfig,omitempty"`
	Retry              *RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
	Scheduling         *SchedulingConfig   `json:"schedulingConfig,omitempty"`
	JobTemplateARN     string              `json:"jobTemplateArn,omitempty"`
	NamespaceID        string              `json:"namespaceId,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
	DestinationPkgs    []string            `json:"destinationPackageVersions,omitempty"`
	CreatedAt          time.Time           `json:"createdAt"`
	LastUpdatedAt      time.Time           `json:"lastUpdatedAt"`
	CompletedAt        time.Time           `json:"completedAt,omitzero"`

	// Counts is the number of things whose latest execution has each status.
	Counts map[ExecStatus]int64 `json:"counts"`
	// Rollout state: things resolved at creation but not yet queued are in the pending bucket;
	// PendingCount counts them.
	PendingCount  int64     `json:"pendingCount"`
	WindowStart   time.Time `json:"windowStart,omitzero"`
	WindowQueued  int64     `json:"windowQueued"`
	Rate          int64     `json:"rate"`
	SinceIncrease int64     `json:"sinceIncrease"`    // notified (or succeeded) since the last rate increase
	StartAt       time.Time `json:"startAt,omitzero"` // SCHEDULED until then
	EndAt         time.Time `json:"endAt,omitzero"`
}

// ProcessDetails is the job's jobProcessDetails.
type ProcessDetails struct {
	ProcessingTargets        []string `json:"processingTargets,omitempty"`
	NumberOfCanceledThings   int64    `json:"numberOfCanceledThings"`
	NumberOfSucceededThings  int64    `json:"numberOfSucceededThings"`
	NumberOfFailedThings     int64    `json:"numberOfFailedThings"`
	NumberOfRejectedThings   int64    `json:"numberOfRejectedThings"`
	NumberOfQueuedThings     int64    `json:"numberOfQueuedThings"`
	NumberOfInProgressThings int64    `json:"numberOfInProgressThings"`
	NumberOfRemovedThings    int64    `json:"numberOfRemovedThings"`
	NumberOfTimedOutThings   int64    `json:"numberOfTimedOutThings"`
}

// ProcessDetails summarises the job's executions.
func (j *Job) ProcessDetails() ProcessDetails {
	c := j.Counts
	return ProcessDetails{
		NumberOfCanceledThings: c[Canceled], NumberOfSucceededThings: c[Succeeded],
		NumberOfFailedThings: c[Failed], NumberOfRejectedThings: c[Rejected],
		NumberOfQueuedThings: c[Queued], NumberOfInProgressThings: c[InProgress],
		NumberOfRemovedThings: c[Removed], NumberOfTimedOutThings: c[TimedOut],
	}
}

// Execution is one attempt of a job on a thing.
type Execution struct {
	JobID           string            `json:"jobId"`
	ThingName       string            `json:"thingName"`
	Status          ExecStatus        `json:"status"`
	ForceCanceled   bool              `json:"forceCanceled,omitempty"`
	StatusDetails   map[string]string `json:"statusDetails,omitempty"`
	QueuedAt        time.Time         `json:"queuedAt"`
	StartedAt       time.Time         `json:"startedAt,omitzero"`
	LastUpdatedAt   time.Time         `json:"lastUpdatedAt"`
	ExecutionNumber int64             `json:"executionNumber"`
	VersionNumber   int64             `json:"versionNumber"`
	RetryAttempt    int64             `json:"retryAttempt"`
	// StepDeadline and ProgressDeadline end an IN_PROGRESS execution as TIMED_OUT (zero: none).
	StepDeadline     time.Time `json:"stepDeadline,omitzero"`
	ProgressDeadline time.Time `json:"progressDeadline,omitzero"`
}

// Deadline is the earlier of the execution's two timers (zero when it has none).
func (e *Execution) Deadline() time.Time {
	d := e.StepDeadline
	if !e.ProgressDeadline.IsZero() && (d.IsZero() || e.ProgressDeadline.Before(d)) {
		d = e.ProgressDeadline
	}
	return d
}

// Template is a job template.
type Template struct {
	JobTemplateID      string              `json:"jobTemplateId"`
	JobTemplateARN     string              `json:"jobTemplateArn"`
	Description        string              `json:"description"`
	Document           string              `json:"document,omitempty"`
	DocumentSource     string              `json:"documentSource,omitempty"`
	PresignedURLConfig *PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	Rollout            *RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort              *AbortConfig        `json:"abortConfig,omitempty"`
	Timeout            *TimeoutConfig      `json:"timeoutConfig,omitempty"`
	Retry              *RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`
	DestinationPkgs    []string            `json:"destinationPackageVersions,omitempty"`
	CreatedAt          time.Time           `json:"createdAt"`
}

// Publication is one MQTT message the service causes (notify, notify-next, events).
type Publication struct {
	Topic   string
	Payload []byte
}

package api

import (
	"net/http"
	"strconv"

	"github.com/iotcore-local/iotcore-local/jobs"
)

// This file serves the Jobs operations of the control plane (service iot): jobs, job
// executions and job templates. The members and paths are those of the AWS SDK for Go v2's
// service/iot serializers. The decisions are the jobs service's; this file owns the wire.

// jobsService returns the service, or the 503 answered without one.
func (s *server) jobsService() (*jobs.Service, error) {
	if s.cfg.Jobs == nil {
		return nil, unavailable("the emulator runs no jobs service")
	}
	return s.cfg.Jobs, nil
}

// addJobRoutes adds the control-plane Jobs operations.
func (s *server) addJobRoutes(rt *router) {
	rt.add(http.MethodGet, "/jobs", "ListJobs", s.listJobs)
	rt.add(http.MethodPut, "/jobs/{jobId}", "CreateJob", s.createJob)
	rt.add(http.MethodGet, "/jobs/{jobId}", "DescribeJob", s.describeJob)
	rt.add(http.MethodPatch, "/jobs/{jobId}", "UpdateJob", s.updateJob)
	rt.add(http.MethodDelete, "/jobs/{jobId}", "DeleteJob", s.deleteJob)
	rt.add(http.MethodPut, "/jobs/{jobId}/cancel", "CancelJob", s.cancelJob)
	rt.add(http.MethodGet, "/jobs/{jobId}/job-document", "GetJobDocument", s.getJobDocument)
	rt.add(http.MethodGet, "/jobs/{jobId}/things", "ListJobExecutionsForJob", s.listJobExecutionsForJob)
	rt.add(http.MethodPost, "/jobs/{jobId}/targets", "AssociateTargetsWithJob", s.associateTargetsWithJob)
	rt.add(http.MethodGet, "/things/{thingName}/jobs", "ListJobExecutionsForThing", s.listJobExecutionsForThing)
	rt.add(http.MethodGet, "/things/{thingName}/jobs/{jobId}", "DescribeJobExecution", s.describeJobExecution)
	rt.add(http.MethodPut, "/things/{thingName}/jobs/{jobId}/cancel", "CancelJobExecution", s.cancelJobExecution)
	rt.add(http.MethodDelete, "/things/{thingName}/jobs/{jobId}/executionNumber/{executionNumber}", "DeleteJobExecution", s.deleteJobExecution)
	rt.add(http.MethodGet, "/job-templates", "ListJobTemplates", s.listJobTemplates)
	rt.add(http.MethodPut, "/job-templates/{jobTemplateId}", "CreateJobTemplate", s.createJobTemplate)
	rt.add(http.MethodGet, "/job-templates/{jobTemplateId}", "DescribeJobTemplate", s.describeJobTemplate)
	rt.add(http.MethodDelete, "/job-templates/{jobTemplateId}", "DeleteJobTemplate", s.deleteJobTemplate)
}

type jobOutput struct {
	JobARN                     string                   `json:"jobArn"`
	JobID                      string                   `json:"jobId"`
	TargetSelection            string                   `json:"targetSelection"`
	Status                     jobs.JobStatus           `json:"status"`
	ForceCanceled              bool                     `json:"forceCanceled"`
	ReasonCode                 string                   `json:"reasonCode,omitempty"`
	Comment                    string                   `json:"comment,omitempty"`
	Targets                    []string                 `json:"targets"`
	Description                string                   `json:"description,omitempty"`
	PresignedURLConfig         *jobs.PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	Rollout                    *jobs.RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort                      *jobs.AbortConfig        `json:"abortConfig,omitempty"`
	CreatedAt                  epochSeconds             `json:"createdAt"`
	LastUpdatedAt              epochSeconds             `json:"lastUpdatedAt"`
	CompletedAt                epochSeconds             `json:"completedAt,omitzero"`
	ProcessDetails             jobs.ProcessDetails      `json:"jobProcessDetails"`
	Timeout                    *jobs.TimeoutConfig      `json:"timeoutConfig,omitempty"`
	NamespaceID                string                   `json:"namespaceId,omitempty"`
	JobTemplateARN             string                   `json:"jobTemplateArn,omitempty"`
	Retry                      *jobs.RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
	DocumentParameters         map[string]string        `json:"documentParameters,omitempty"`
	IsConcurrent               bool                     `json:"isConcurrent"`
	Scheduling                 *jobs.SchedulingConfig   `json:"schedulingConfig,omitempty"`
	DestinationPackageVersions []string                 `json:"destinationPackageVersions,omitempty"`
}

func jobOut(j *jobs.Job) jobOutput {
	return jobOutput{
		JobARN: j.JobARN, JobID: j.JobID, TargetSelection: j.TargetSelection, Status: j.Status,
		ForceCanceled: j.ForceCanceled, ReasonCode: j.ReasonCode, Comment: j.Comment, Targets: j.Targets,
		Description: j.Description, PresignedURLConfig: j.PresignedURLConfig, Rollout: j.Rollout, Abort: j.Abort,
		CreatedAt: epochSeconds(j.CreatedAt), LastUpdatedAt: epochSeconds(j.LastUpdatedAt),
		CompletedAt: epochSeconds(j.CompletedAt), ProcessDetails: j.ProcessDetails(), Timeout: j.Timeout,
		NamespaceID: j.NamespaceID, JobTemplateARN: j.JobTemplateARN, Retry: j.Retry,
		DocumentParameters: j.DocumentParameters, Scheduling: j.Scheduling, DestinationPackageVersions: j.DestinationPkgs,
	}
}

type jobRef struct {
	JobARN      string `json:"jobArn"`
	JobID       string `json:"jobId"`
	Description string `json:"description,omitempty"`
}

func (s *server) createJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	var in jobs.CreateJobInput
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	in.JobID = c.vars["jobId"]
	j, err := svc.CreateJob(in)
	if err != nil {
		return nil, serviceError(err)
	}
	return jobRef{JobARN: j.JobARN, JobID: j.JobID, Description: j.Description}, nil
}

func (s *server) describeJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	if _, err := boolQuery(c, "beforeSubstitution"); err != nil {
		return nil, err
	}
	j, err := svc.DescribeJob(c.vars["jobId"])
	if err != nil {
		return nil, serviceError(err)
	}
	return struct {
		DocumentSource string    `json:"documentSource,omitempty"`
		Job            jobOutput `json:"job"`
	}{j.DocumentSource, jobOut(j)}, nil
}

func (s *server) getJobDocument(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	before, err := boolQuery(c, "beforeSubstitution")
	if err != nil {
		return nil, err
	}
	doc, err := svc.JobDocument(c.vars["jobId"], before)
	if err != nil {
		return nil, serviceError(err)
	}
	return struct {
		Document string `json:"document"`
	}{doc}, nil
}

type jobSummary struct {
	JobARN          string         `json:"jobArn"`
	JobID           string         `json:"jobId"`
	TargetSelection string         `json:"targetSelection"`
	Status          jobs.JobStatus `json:"status"`
	CreatedAt       epochSeconds   `json:"createdAt"`
	LastUpdatedAt   epochSeconds   `json:"lastUpdatedAt"`
	CompletedAt     epochSeconds   `json:"completedAt,omitzero"`
	IsConcurrent    bool           `json:"isConcurrent"`
}

func (s *server) listJobs(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	max, err := intQuery(c, "maxResults", 1, 250, 50)
	if err != nil {
		return nil, err
	}
	in := jobs.ListJobsInput{Status: c.query("status"), TargetSelection: c.query("targetSelection"),
		ThingGroupName: c.query("thingGroupName"), NextToken: c.query("nextToken"), MaxResults: max}
	switch jobs.JobStatus(in.Status) {
	case "", jobs.JobInProgress, jobs.JobCanceled, jobs.JobCompleted, jobs.JobDeletionInProgress, jobs.JobScheduled:
	default:
		return nil, invalidRequest("status: %q is not a job status", in.Status)
	}
	list, next, err := svc.ListJobs(in)
	if err != nil {
		return nil, serviceError(err)
	}
	out := struct {
		Jobs      []jobSummary `json:"jobs"`
		NextToken string       `json:"nextToken,omitempty"`
	}{Jobs: []jobSummary{}, NextToken: next}
	for _, j := range list {
		out.Jobs = append(out.Jobs, jobSummary{JobARN: j.JobARN, JobID: j.JobID, TargetSelection: j.TargetSelection,
			Status: j.Status, CreatedAt: epochSeconds(j.CreatedAt), LastUpdatedAt: epochSeconds(j.LastUpdatedAt),
			CompletedAt: epochSeconds(j.CompletedAt)})
	}
	return out, nil
}

func (s *server) updateJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	var in jobs.UpdateJobInput
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	in.JobID = c.vars["jobId"]
	if err := svc.UpdateJob(in); err != nil {
		return nil, serviceError(err)
	}
	return empty{}, nil
}

func (s *server) cancelJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	force, err := boolQuery(c, "force")
	if err != nil {
		return nil, err
	}
	var in struct {
		ReasonCode string `json:"reasonCode"`
		Comment    string `json:"comment"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	j, err := svc.CancelJob(c.vars["jobId"], force, in.ReasonCode, in.Comment)
	if err != nil {
		return nil, serviceError(err)
	}
	return jobRef{JobARN: j.JobARN, JobID: j.JobID, Description: j.Description}, nil
}

func (s *server) associateTargetsWithJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	var in struct {
		Targets []string `json:"targets"`
		Comment string   `json:"comment"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	j, err := svc.AssociateTargets(c.vars["jobId"], in.Targets, in.Comment)
	if err != nil {
		return nil, serviceError(err)
	}
	return jobRef{JobARN: j.JobARN, JobID: j.JobID, Description: j.Description}, nil
}

func (s *server) deleteJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	force, err := boolQuery(c, "force")
	if err != nil {
		return nil, err
	}
	if err := svc.DeleteJob(c.vars["jobId"], force); err != nil {
		return nil, serviceError(err)
	}
	return empty{}, nil
}

type statusDetailsOut struct {
	DetailsMap map[string]string `json:"detailsMap,omitempty"`
}

type jobExecutionOutput struct {
	JobID                 string            `json:"jobId"`
	Status                jobs.ExecStatus   `json:"status"`
	ForceCanceled         bool              `json:"forceCanceled"`
	StatusDetails         *statusDetailsOut `json:"statusDetails,omitempty"`
	ThingARN              string            `json:"thingArn"`
	QueuedAt              epochSeconds      `json:"queuedAt"`
	StartedAt             epochSeconds      `json:"startedAt,omitzero"`
	LastUpdatedAt         epochSeconds      `json:"lastUpdatedAt"`
	ExecutionNumber       int64             `json:"executionNumber"`
	VersionNumber         int64             `json:"versionNumber"`
	SecondsBeforeTimedOut *int64            `json:"approximateSecondsBeforeTimedOut,omitempty"`
}

func (s *server) describeJobExecution(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	var n int64
	if v := c.query("executionNumber"); v != "" {
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 1 {
			return nil, invalidRequest("executionNumber: must be a positive integer, got %q", v)
		}
	}
	e, _, err := svc.DescribeExecution(c.vars["jobId"], c.vars["thingName"], n)
	if err != nil {
		return nil, serviceError(err)
	}
	out := jobExecutionOutput{
		JobID: e.JobID, Status: e.Status, ForceCanceled: e.ForceCanceled, ThingARN: svc.ThingARN(e.ThingName),
		QueuedAt: epochSeconds(e.QueuedAt), StartedAt: epochSeconds(e.StartedAt), LastUpdatedAt: epochSeconds(e.LastUpdatedAt),
		ExecutionNumber: e.ExecutionNumber, VersionNumber: e.VersionNumber,
	}
	if len(e.StatusDetails) > 0 {
		out.StatusDetails = &statusDetailsOut{DetailsMap: e.StatusDetails}
	}
	out.SecondsBeforeTimedOut = svc.SecondsBeforeTimedOut(e)
	return struct {
		Execution jobExecutionOutput `json:"execution"`
	}{out}, nil
}

type execSummary struct {
	Status          jobs.ExecStatus `json:"status"`
	QueuedAt        epochSeconds    `json:"queuedAt"`
	StartedAt       epochSeconds    `json:"startedAt,omitzero"`
	LastUpdatedAt   epochSeconds    `json:"lastUpdatedAt"`
	ExecutionNumber int64           `json:"executionNumber"`
	RetryAttempt    int64           `json:"retryAttempt"`
}

func summaryOut(e *jobs.Execution) execSummary {
	return execSummary{Status: e.Status, QueuedAt: epochSeconds(e.QueuedAt), StartedAt: epochSeconds(e.StartedAt),
		LastUpdatedAt: epochSeconds(e.LastUpdatedAt), ExecutionNumber: e.ExecutionNumber, RetryAttempt: e.RetryAttempt}
}

// execStatusQuery reads the optional status filter of the execution lists.
func execStatusQuery(c *call) (string, error) {
	st := c.query("status")
	if st != "" && !jobs.ExecStatus(st).Valid() {
		return "", invalidRequest("status: %q is not a job execution status", st)
	}
	return st, nil
}

func (s *server) listJobExecutionsForJob(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	st, err := execStatusQuery(c)
	if err != nil {
		return nil, err
	}
	max, err := intQuery(c, "maxResults", 1, 250, 50)
	if err != nil {
		return nil, err
	}
	list, next, err := svc.ListExecutionsForJob(c.vars["jobId"], st, c.query("nextToken"), max)
	if err != nil {
		return nil, serviceError(err)
	}
	type item struct {
		ThingARN string      `json:"thingArn"`
		Summary  execSummary `json:"jobExecutionSummary"`
	}
	out := struct {
		ExecutionSummaries []item `json:"executionSummaries"`
		NextToken          string `json:"nextToken,omitempty"`
	}{ExecutionSummaries: []item{}, NextToken: next}
	for _, e := range list {
		out.ExecutionSummaries = append(out.ExecutionSummaries, item{svc.ThingARN(e.ThingName), summaryOut(e)})
	}
	return out, nil
}

func (s *server) listJobExecutionsForThing(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	st, err := execStatusQuery(c)
	if err != nil {
		return nil, err
	}
	max, err := intQuery(c, "maxResults", 1, 250, 50)
	if err != nil {
		return nil, err
	}
	list, next, err := svc.ListExecutionsForThing(c.vars["thingName"], st, c.query("jobId"), c.query("nextToken"), max)
	if err != nil {
		return nil, serviceError(err)
	}
	type item struct {
		JobID   string      `json:"jobId"`
		Summary execSummary `json:"jobExecutionSummary"`
	}
	out := struct {
		ExecutionSummaries []item `json:"executionSummaries"`
		NextToken          string `json:"nextToken,omitempty"`
	}{ExecutionSummaries: []item{}, NextToken: next}
	for _, e := range list {
		out.ExecutionSummaries = append(out.ExecutionSummaries, item{e.JobID, summaryOut(e)})
	}
	return out, nil
}

func (s *server) cancelJobExecution(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	force, err := boolQuery(c, "force")
	if err != nil {
		return nil, err
	}
	var in struct {
		ExpectedVersion *int64            `json:"expectedVersion"`
		StatusDetails   map[string]string `json:"statusDetails"`
	}
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	err = svc.CancelExecution(jobs.CancelExecutionInput{JobID: c.vars["jobId"], Thing: c.vars["thingName"], Force: force,
		ExpectedVersion: in.ExpectedVersion, StatusDetails: in.StatusDetails})
	if err != nil {
		return nil, serviceError(err)
	}
	return empty{}, nil
}

func (s *server) deleteJobExecution(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	force, err := boolQuery(c, "force")
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(c.vars["executionNumber"], 10, 64)
	if err != nil || n < 1 {
		return nil, invalidRequest("executionNumber: must be a positive integer, got %q", c.vars["executionNumber"])
	}
	if err := svc.DeleteExecution(c.vars["jobId"], c.vars["thingName"], n, force); err != nil {
		return nil, serviceError(err)
	}
	return empty{}, nil
}

func (s *server) createJobTemplate(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	var in jobs.CreateTemplateInput
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	in.JobTemplateID = c.vars["jobTemplateId"]
	t, err := svc.CreateTemplate(in)
	if err != nil {
		return nil, serviceError(err)
	}
	return struct {
		ARN string `json:"jobTemplateArn"`
		ID  string `json:"jobTemplateId"`
	}{t.JobTemplateARN, t.JobTemplateID}, nil
}

func (s *server) describeJobTemplate(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	t, err := svc.DescribeTemplate(c.vars["jobTemplateId"])
	if err != nil {
		return nil, serviceError(err)
	}
	return struct {
		ARN                string                   `json:"jobTemplateArn"`
		ID                 string                   `json:"jobTemplateId"`
		Description        string                   `json:"description"`
		DocumentSource     string                   `json:"documentSource,omitempty"`
		Document           string                   `json:"document,omitempty"`
		CreatedAt          epochSeconds             `json:"createdAt"`
		PresignedURLConfig *jobs.PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
		Rollout            *jobs.RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
		Abort              *jobs.AbortConfig        `json:"abortConfig,omitempty"`
		Timeout            *jobs.TimeoutConfig      `json:"timeoutConfig,omitempty"`
		Retry              *jobs.RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
		MaintenanceWindows []jobs.MaintenanceWindow `json:"maintenanceWindows,omitempty"`
		DestinationPkgs    []string                 `json:"destinationPackageVersions,omitempty"`
	}{t.JobTemplateARN, t.JobTemplateID, t.Description, t.DocumentSource, t.Document, epochSeconds(t.CreatedAt),
		t.PresignedURLConfig, t.Rollout, t.Abort, t.Timeout, t.Retry, t.MaintenanceWindows, t.DestinationPkgs}, nil
}

func (s *server) listJobTemplates(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	max, err := intQuery(c, "maxResults", 1, 250, 50)
	if err != nil {
		return nil, err
	}
	list, next, err := svc.ListTemplates(c.query("nextToken"), max)
	if err != nil {
		return nil, serviceError(err)
	}
	type item struct {
		ARN         string       `json:"jobTemplateArn"`
		ID          string       `json:"jobTemplateId"`
		Description string       `json:"description"`
		CreatedAt   epochSeconds `json:"createdAt"`
	}
	out := struct {
		JobTemplates []item `json:"jobTemplates"`
		NextToken    string `json:"nextToken,omitempty"`
	}{JobTemplates: []item{}, NextToken: next}
	for _, t := range list {
		out.JobTemplates = append(out.JobTemplates, item{t.JobTemplateARN, t.JobTemplateID, t.Description, epochSeconds(t.CreatedAt)})
	}
	return out, nil
}

func (s *server) deleteJobTemplate(c *call) (any, error) {
	svc, err := s.jobsService()
	if err != nil {
		return nil, err
	}
	if err := svc.DeleteTemplate(c.vars["jobTemplateId"]); err != nil {
		return nil, serviceError(err)
	}
	return empty{}, nil
}

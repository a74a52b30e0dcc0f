package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// CreateJobInput is CreateJob's input.
type CreateJobInput struct {
	JobID              string              `json:"-"`
	Targets            []string            `json:"targets"`
	Document           string              `json:"document,omitempty"`
	DocumentSource     string              `json:"documentSource,omitempty"`
	Description        string              `json:"description,omitempty"`
	PresignedURLConfig *PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	TargetSelection    string              `json:"targetSelection,omitempty"`
	Rollout            *RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort              *AbortConfig        `json:"abortConfig,omitempty"`
	Timeout            *TimeoutConfig      `json:"timeoutConfig,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
	NamespaceID        string              `json:"namespaceId,omitempty"`
	JobTemplateARN     string              `json:"jobTemplateArn,omitempty"`
	Retry              *RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
	DocumentParameters map[string]string   `json:"documentParameters,omitempty"`
	Scheduling         *SchedulingConfig   `json:"schedulingConfig,omitempty"`
	DestinationPkgs    []string            `json:"destinationPackageVersions,omitempty"`
}

// target is a resolved job target.
type target struct {
	thing, group string
}

// parseTarget reads a thing or thing-group ARN of the emulator's account.
func (s *Service) parseTarget(arn string) (target, *Error) {
	prefix := s.arn("")
	rest, ok := strings.CutPrefix(arn, prefix)
	if !ok {
		return target{}, newError(ErrInvalidRequest, "targets: %q is not a thing or thing group ARN of %s", arn, prefix)
	}
	switch {
	case strings.HasPrefix(rest, "thing/"):
		return target{thing: rest[len("thing/"):]}, nil
	case strings.HasPrefix(rest, "thinggroup/"):
		return target{group: rest[len("thinggroup/"):]}, nil
	}
	return target{}, newError(ErrInvalidRequest, "targets: %q is not a thing or thing group ARN", arn)
}

// resolve lists the things the targets name today, each once, in name order.
func (s *Service) resolve(targets []string) ([]string, error) {
	set := map[string]bool{}
	for _, arn := range targets {
		t, e := s.parseTarget(arn)
		if e != nil {
			return nil, e
		}
		if t.thing != "" {
			set[t.thing] = true
			continue
		}
		things, err := s.dir.ThingsInGroup(t.group)
		if err != nil {
			return nil, fmt.Errorf("jobs: things of group %s: %w", t.group, err)
		}
		for _, n := range things {
			set[n] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// CreateJob creates a job and starts its rollout (or schedules it).
func (s *Service) CreateJob(in CreateJobInput) (*Job, error) {
	now := s.now()
	if e := checkJobID("jobId", in.JobID); e != nil {
		return nil, e
	}
	if in.JobTemplateARN != "" {
		if err := s.applyTemplate(&in); err != nil {
			return nil, err
		}
	}
	if len(in.Targets) == 0 || len(in.Targets) > maxTargets {
		return nil, newError(ErrInvalidRequest, "targets: 1-%d thing or thing group ARNs are required, got %d", maxTargets, len(in.Targets))
	}
	for _, arn := range in.Targets {
		t, e := s.parseTarget(arn)
		if e != nil {
			return nil, e
		}
		var ok bool
		var err error
		if t.thing != "" {
			ok, err = s.dir.ThingExists(t.thing)
		} else {
			ok, err = s.dir.GroupExists(t.group)
		}
		if err != nil {
			return nil, fmt.Errorf("jobs: look up target %s: %w", arn, err)
		}
		if !ok {
			return nil, newError(ErrNotFound, "Target %s does not exist", arn)
		}
	}
	switch in.TargetSelection {
	case "":
		in.TargetSelection = Snapshot
	case Snapshot, Continuous:
	default:
		return nil, newError(ErrInvalidRequest, "targetSelection: must be SNAPSHOT or CONTINUOUS, got %q", in.TargetSelection)
	}
	if (in.Document == "") == (in.DocumentSource == "") {
		return nil, newError(ErrInvalidRequest, "document, documentSource: give exactly one of them")
	}
	if in.DocumentSource != "" {
		doc, err := s.fetchDocument(in.DocumentSource, now)
		if err != nil {
			return nil, err
		}
		in.Document = doc
	}
	if e := checkDocument(in.Document); e != nil {
		return nil, e
	}
	doc, e := substituteParameters(in.Document, in.DocumentParameters)
	if e != nil {
		return nil, e
	}
	if e := firstError(checkText("description", in.Description, maxDescription), checkRollout(in.Rollout),
		checkAbortConfig(in.Abort), checkTimeout(in.Timeout), checkRetry(in.Retry), checkPresigned(in.PresignedURLConfig)); e != nil {
		return nil, e
	}
	start, end, e := checkScheduling(in.Scheduling, now)
	if e != nil {
		return nil, e
	}
	j := &Job{
		JobID: in.JobID, JobARN: s.JobARN(in.JobID), TargetSelection: in.TargetSelection, Status: JobInProgress,
		Targets: in.Targets, Description: in.Description, Document: doc, RawDocument: in.Document,
		DocumentSource: in.DocumentSource, DocumentParameters: in.DocumentParameters,
		PresignedURLConfig: in.PresignedURLConfig, Rollout: in.Rollout, Abort: in.Abort, Timeout: in.Timeout,
		Retry: in.Retry, Scheduling: in.Scheduling, JobTemplateARN: in.JobTemplateARN, NamespaceID: in.NamespaceID,
		Tags: in.Tags, DestinationPkgs: in.DestinationPkgs, CreatedAt: now, LastUpdatedAt: now,
		Counts: map[ExecStatus]int64{}, StartAt: start, EndAt: end,
	}
	if start.After(now) {
		j.Status = JobScheduled
	}
	var things []string
	if j.Status == JobInProgress {
		var err error
		if things, err = s.resolve(in.Targets); err != nil {
			return nil, err
		}
	}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		if old, err := getJob(tx, in.JobID); err != nil {
			return err
		} else if old != nil {
			return &Error{Kind: ErrAlreadyExists, Message: fmt.Sprintf("Job %s already exists", in.JobID), ResourceID: in.JobID, ResourceARN: old.JobARN}
		}
		fx.addJob(j)
		fx.pokeTimers = true
		if j.Status == JobInProgress {
			return s.startRollout(tx, fx, j, things)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(pubs)
	s.log.Info("job created", "job", j.JobID, "targets", len(in.Targets), "things", len(things), "status", j.Status)
	return j, nil
}

func firstError(errs ...*Error) *Error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// fetchDocument reads the job document from an S3 object through the configured S3 endpoint.
func (s *Service) fetchDocument(source string, now time.Time) (string, error) {
	if len(source) > 1350 {
		return "", newError(ErrInvalidRequest, "documentSource: at most 1350 characters")
	}
	u, ok := s.pre.Presign(source, 5*time.Minute, now)
	if !ok {
		return "", newError(ErrInvalidRequest, "documentSource: %q cannot be read: no S3 endpoint is configured (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) or it is not an S3 object URL", source)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return "", newError(ErrInvalidRequest, "documentSource: reading %s: %v", source, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", newError(ErrInvalidRequest, "documentSource: reading %s: status %d", source, resp.StatusCode)
	}
	return string(bytes.TrimSpace(data)), nil
}

// startRollout queues the job's things (all at once without a rollout config, else as the rate
// allows; the rest wait in the pending bucket for the timer loop).
func (s *Service) startRollout(tx *bbolt.Tx, fx *effects, j *Job, things []string) error {
	j.Status = JobInProgress
	if j.Rollout == nil {
		for _, t := range things {
			if _, err := s.queueExec(tx, fx, j, t, 0); err != nil {
				return err
			}
		}
		return nil
	}
	if err := pushPending(tx, j, things); err != nil {
		return err
	}
	_, err := s.rolloutStep(tx, fx, j)
	return err
}

// DescribeJob returns a job.
func (s *Service) DescribeJob(id string) (*Job, error) {
	var j *Job
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		j, err = getJob(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, newError(ErrNotFound, "Job %s does not exist", id)
	}
	return j, nil
}

// JobDocument returns a job's document, after or before parameter substitution.
func (s *Service) JobDocument(id string, beforeSubstitution bool) (string, error) {
	j, err := s.DescribeJob(id)
	if err != nil {
		return "", err
	}
	if beforeSubstitution {
		return j.RawDocument, nil
	}
	return j.Document, nil
}

// ListJobsInput filters ListJobs.
type ListJobsInput struct {
	Status, TargetSelection, ThingGroupName, NextToken string
	MaxResults                                         int
}

// ListJobs lists jobs by job ID.
func (s *Service) ListJobs(in ListJobsInput) ([]*Job, string, error) {
	var all []*Job
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			j := &Job{}
			if err := json.Unmarshal(v, j); err != nil {
				return err
			}
			if in.Status != "" && string(j.Status) != in.Status {
				return nil
			}
			if in.TargetSelection != "" && j.TargetSelection != in.TargetSelection {
				return nil
			}
			if in.ThingGroupName != "" && !slices.Contains(j.Targets, s.arn("thinggroup/"+in.ThingGroupName)) {
				return nil
			}
			all = append(all, j)
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return page(all, func(j *Job) string { return j.JobID }, in.NextToken, in.MaxResults)
}

// page cuts a sorted list after the nextToken's key.
func page[T any](all []T, key func(T) string, next string, max int) ([]T, string, error) {
	if max <= 0 {
		max = 50
	}
	start := 0
	if next != "" {
		start = sort.Search(len(all), func(i int) bool { return key(all[i]) > next })
	}
	all = all[start:]
	if len(all) > max {
		return all[:max], key(all[max-1]), nil
	}
	return all, "", nil
}

// UpdateJobInput is UpdateJob's input: nil members are left as they are.
type UpdateJobInput struct {
	JobID              string              `json:"-"`
	Description        *string             `json:"description,omitempty"`
	PresignedURLConfig *PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	Rollout            *RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort              *AbortConfig        `json:"abortConfig,omitempty"`
	Timeout            *TimeoutConfig      `json:"timeoutConfig,omitempty"`
	Retry              *RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
}

// UpdateJob changes a job's description and configurations. The timeout cannot change once an
// execution started, as on AWS.
func (s *Service) UpdateJob(in UpdateJobInput) error {
	if in.Description != nil {
		if e := checkText("description", *in.Description, maxDescription); e != nil {
			return e
		}
	}
	if e := firstError(checkRollout(in.Rollout), checkAbortConfig(in.Abort), checkTimeout(in.Timeout), checkRetry(in.Retry), checkPresigned(in.PresignedURLConfig)); e != nil {
		return e
	}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, in.JobID)
		if err != nil {
			return err
		}
		if j == nil {
			return newError(ErrNotFound, "Job %s does not exist", in.JobID)
		}
		if in.Timeout != nil && j.Counts[InProgress]+j.Counts[Succeeded]+j.Counts[Failed]+j.Counts[TimedOut]+j.Counts[Rejected] > 0 {
			return newError(ErrInvalidRequest, "timeoutConfig: cannot be changed once an execution of job %s has started", in.JobID)
		}
		if in.Description != nil {
			j.Description = *in.Description
		}
		if in.PresignedURLConfig != nil {
			j.PresignedURLConfig = in.PresignedURLConfig
		}
		if in.Rollout != nil {
			j.Rollout = in.Rollout
			j.Rate = 0
			fx.pokeTimers = true
		}
		if in.Abort != nil {
			j.Abort = in.Abort
		}
		if in.Timeout != nil {
			j.Timeout = in.Timeout
		}
		if in.Retry != nil {
			j.Retry = in.Retry
		}
		j.LastUpdatedAt = fx.now
		return nil
	})
	s.emit(pubs)
	return err
}

// CancelJob cancels a job: QUEUED executions end CANCELED, IN_PROGRESS ones too with force.
func (s *Service) CancelJob(id string, force bool, reasonCode, comment string) (*Job, error) {
	if reasonCode != "" && !reasonCodeRE.MatchString(reasonCode) {
		return nil, newError(ErrInvalidRequest, "reasonCode: %q must be 1-128 characters of upper-case letters, digits and '_'", reasonCode)
	}
	if e := checkText("comment", comment, maxComment); e != nil {
		return nil, e
	}
	var out *Job
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, id)
		if err != nil {
			return err
		}
		if j == nil {
			return newError(ErrNotFound, "Job %s does not exist", id)
		}
		out = j
		switch j.Status {
		case JobCompleted:
			return newError(ErrInvalidStateTransition, "Job %s is COMPLETED and cannot be canceled", id)
		case JobDeletionInProgress:
			return newError(ErrInvalidStateTransition, "Job %s is being deleted", id)
		case JobCanceled:
			if !force || j.ForceCanceled {
				return nil // canceling again is accepted and changes nothing
			}
		}
		return s.cancelJobTx(tx, fx, j, force, reasonCode, comment)
	})
	if err != nil {
		return nil, err
	}
	s.emit(pubs)
	return out, nil
}

// DeleteJob deletes a job and its executions. A job that is not COMPLETED or CANCELED needs
// force. Deletion is immediate, so AWS's limit of 10 jobs being deleted at once never binds.
func (s *Service) DeleteJob(id string, force bool) error {
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, id)
		if err != nil {
			return err
		}
		if j == nil {
			return newError(ErrNotFound, "Job %s does not exist", id)
		}
		if !force && j.Status != JobCompleted && j.Status != JobCanceled {
			return newError(ErrInvalidStateTransition, "Job %s is %s; only COMPLETED or CANCELED jobs can be deleted without force", id, j.Status)
		}
		var all []*Execution
		prefix := append([]byte(id), 0)
		c := tx.Bucket(bucketExecs).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			e, err := decodeExec(v)
			if err != nil {
				return err
			}
			all = append(all, e)
		}
		for _, e := range all {
			if err := fx.touch(tx, e.ThingName); err != nil {
				return err
			}
		}
		for _, e := range all {
			if err := delExec(tx, e); err != nil {
				return err
			}
		}
		if err := dropPending(tx, j); err != nil {
			return err
		}
		if err := tx.Bucket(bucketJobs).Delete([]byte(id)); err != nil {
			return err
		}
		fx.deleted[id] = true
		j.LastUpdatedAt = fx.now
		s.jobEvent(fx, j, "deleted")
		return nil
	})
	if err != nil {
		return err
	}
	s.emit(pubs)
	s.log.Info("job deleted", "job", id, "force", force)
	return nil
}

// DescribeExecution returns an execution: attempt number n, or the latest when n is 0.
func (s *Service) DescribeExecution(jobID, thing string, n int64) (*Execution, *Job, error) {
	var e *Execution
	var j *Job
	err := s.view(func(tx *bbolt.Tx) error {
		var err error
		if j, err = getJob(tx, jobID); err != nil || j == nil {
			return err
		}
		e, err = getExec(tx, jobID, thing, n)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if j == nil || e == nil {
		return nil, nil, newError(ErrNotFound, "Job execution of job %s on thing %s does not exist", jobID, thing)
	}
	return e, j, nil
}

// ListExecutionsForJob lists the latest execution of each thing of a job, by thing name.
func (s *Service) ListExecutionsForJob(jobID, status, next string, max int) ([]*Execution, string, error) {
	var all []*Execution
	var found bool
	err := s.view(func(tx *bbolt.Tx) error {
		j, err := getJob(tx, jobID)
		if err != nil || j == nil {
			return err
		}
		found = true
		return eachExec(tx, jobID, func(e *Execution) error {
			if status == "" || string(e.Status) == status {
				all = append(all, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	if !found {
		return nil, "", newError(ErrNotFound, "Job %s does not exist", jobID)
	}
	return page(all, func(e *Execution) string { return e.ThingName }, next, max)
}

// ListExecutionsForThing lists the latest execution of each job on a thing, by job ID.
func (s *Service) ListExecutionsForThing(thing, status, jobID, next string, max int) ([]*Execution, string, error) {
	var all []*Execution
	err := s.view(func(tx *bbolt.Tx) error {
		for _, id := range thingJobs(tx, thing) {
			if jobID != "" && id != jobID {
				continue
			}
			e, err := getExec(tx, id, thing, 0)
			if err != nil {
				return err
			}
			if e != nil && (status == "" || string(e.Status) == status) {
				all = append(all, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return page(all, func(e *Execution) string { return e.JobID }, next, max)
}

// CancelExecutionInput is CancelJobExecution's input.
type CancelExecutionInput struct {
	JobID, Thing    string
	Force           bool
	ExpectedVersion *int64
	StatusDetails   map[string]string
}

// CancelExecution cancels one thing's execution of a job.
func (s *Service) CancelExecution(in CancelExecutionInput) error {
	if msg := CheckStatusDetails(in.StatusDetails); msg != "" {
		return newError(ErrInvalidRequest, "%s", msg)
	}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, in.JobID)
		if err != nil {
			return err
		}
		var e *Execution
		if j != nil {
			if e, err = getExec(tx, in.JobID, in.Thing, 0); err != nil {
				return err
			}
		}
		if e == nil {
			return newError(ErrNotFound, "Job execution of job %s on thing %s does not exist", in.JobID, in.Thing)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != e.VersionNumber {
			return newError(ErrVersionConflict, "The expected version %d does not match the execution's version %d", *in.ExpectedVersion, e.VersionNumber)
		}
		if !cancelTransition(e.Status, in.Force) {
			if e.Status == InProgress {
				return newError(ErrInvalidStateTransition, "The execution of job %s on thing %s is IN_PROGRESS; cancel it with force", in.JobID, in.Thing)
			}
			return newError(ErrInvalidStateTransition, "The execution of job %s on thing %s is %s and cannot be canceled", in.JobID, in.Thing, e.Status)
		}
		e.ForceCanceled = e.Status == InProgress
		return s.setStatus(tx, fx, j, e, Canceled, in.StatusDetails)
	})
	if err != nil {
		return err
	}
	s.emit(pubs)
	return nil
}

// DeleteExecution deletes one attempt of a job on a thing; a non-terminal one needs force.
func (s *Service) DeleteExecution(jobID, thing string, n int64, force bool) error {
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, jobID)
		if err != nil {
			return err
		}
		var e *Execution
		if j != nil {
			if e, err = getExec(tx, jobID, thing, n); err != nil {
				return err
			}
		}
		if e == nil {
			return newError(ErrNotFound, "Job execution %d of job %s on thing %s does not exist", n, jobID, thing)
		}
		if !e.Status.Terminal() && !force {
			return newError(ErrInvalidStateTransition, "The execution of job %s on thing %s is %s; delete it with force", jobID, thing, e.Status)
		}
		if err := fx.touch(tx, thing); err != nil {
			return err
		}
		latest, err := getExec(tx, jobID, thing, 0)
		if err != nil {
			return err
		}
		if err := delExec(tx, e); err != nil {
			return err
		}
		if latest.ExecutionNumber == e.ExecutionNumber {
			j.Counts[e.Status]--
			if prev, err := getExec(tx, jobID, thing, 0); err != nil {
				return err
			} else if prev != nil {
				j.Counts[prev.Status]++
			}
		}
		j.LastUpdatedAt = fx.now
		s.execEventOp(fx, j, e, "deleted")
		return nil
	})
	if err != nil {
		return err
	}
	s.emit(pubs)
	return nil
}

// AssociateTargets adds targets to a continuous IN_PROGRESS job: the things they reach get an
// execution at once (those that have a pending or finished one keep it). A job holds at most 100
// targets (LimitExceededException beyond).
func (s *Service) AssociateTargets(id string, targets []string, comment string) (*Job, error) {
	if len(targets) == 0 {
		return nil, newError(ErrInvalidRequest, "targets: at least one thing or thing group ARN is required")
	}
	if e := checkText("comment", comment, maxComment); e != nil {
		return nil, e
	}
	for _, arn := range targets {
		t, e := s.parseTarget(arn)
		if e != nil {
			return nil, e
		}
		var ok bool
		var err error
		if t.thing != "" {
			ok, err = s.dir.ThingExists(t.thing)
		} else {
			ok, err = s.dir.GroupExists(t.group)
		}
		if err != nil {
			return nil, fmt.Errorf("jobs: look up target %s: %w", arn, err)
		}
		if !ok {
			return nil, newError(ErrNotFound, "Target %s does not exist", arn)
		}
	}
	things, err := s.resolve(targets)
	if err != nil {
		return nil, err
	}
	var out *Job
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, id)
		if err != nil {
			return err
		}
		if j == nil {
			return newError(ErrNotFound, "Job %s does not exist", id)
		}
		if j.TargetSelection != Continuous || j.Status != JobInProgress {
			return newError(ErrInvalidRequest, "Targets can be associated only with a CONTINUOUS job that is IN_PROGRESS; job %s is %s and %s", id, j.TargetSelection, j.Status)
		}
		merged := append([]string{}, j.Targets...)
		for _, t := range targets {
			if !slices.Contains(merged, t) {
				merged = append(merged, t)
			}
		}
		if len(merged) > maxTargets {
			return newError(ErrLimitExceeded, "Job %s would have %d targets; at most %d are allowed", id, len(merged), maxTargets)
		}
		j.Targets = merged
		if comment != "" {
			j.Comment = comment
		}
		j.LastUpdatedAt = fx.now
		for _, thing := range things {
			e, err := getExec(tx, id, thing, 0)
			if err != nil {
				return err
			}
			if e == nil || e.Status == Removed {
				if _, err := s.queueExec(tx, fx, j, thing, 0); err != nil {
					return err
				}
			}
		}
		out = j
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.emit(pubs)
	return out, nil
}

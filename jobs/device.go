package jobs

import (
	"time"

	"go.etcd.io/bbolt"
)

// The device API, shared by MQTT ($aws/things/{thing}/jobs/...) and HTTPS (iot-jobs-data).

// ExecutionView is an execution as a device sees it, with the job document (substituted, with
// presigned URLs) when asked for.
type ExecutionView struct {
	Execution *Execution
	Document  string // "" when not asked for
	// SecondsBeforeTimedOut is approximateSecondsBeforeTimedOut (nil without a timer).
	SecondsBeforeTimedOut *int64
}

func (s *Service) viewOf(e *Execution, j *Job, withDoc bool, now time.Time) *ExecutionView {
	v := &ExecutionView{Execution: e}
	if withDoc {
		v.Document = s.deviceDocument(j, now)
	}
	v.SecondsBeforeTimedOut = secondsBefore(e, now)
	return v
}

// secondsBefore is approximateSecondsBeforeTimedOut: the time left on an IN_PROGRESS
// execution's earlier timer (nil without one).
func secondsBefore(e *Execution, now time.Time) *int64 {
	d := e.Deadline()
	if e.Status != InProgress || d.IsZero() {
		return nil
	}
	secs := max(0, int64(d.Sub(now)/time.Second))
	return &secs
}

// SecondsBeforeTimedOut is approximateSecondsBeforeTimedOut by the service's clock.
func (s *Service) SecondsBeforeTimedOut(e *Execution) *int64 { return secondsBefore(e, s.now()) }

// checkThrottle applies the per-thing request limit.
func (s *Service) checkThrottle(thing string) *DeviceError {
	if !s.throttle.allow(thing, s.now()) {
		return deviceError(CodeRequestThrottled, "The rate exceeds the limit of %d job requests per second for thing %s", s.throttle.limit, thing)
	}
	return nil
}

// PendingExecutions is GetPendingJobExecutions: the thing's IN_PROGRESS and QUEUED executions.
func (s *Service) PendingExecutions(thing string) (inProgress, queued []*Execution, err error) {
	if e := s.checkThrottle(thing); e != nil {
		return nil, nil, e
	}
	var l pendingList
	err = s.view(func(tx *bbolt.Tx) error {
		var err error
		l, err = newEffects(s).pending(tx, thing)
		return err
	})
	if err != nil {
		return nil, nil, deviceError(CodeInternalError, "reading the pending executions: %v", err)
	}
	inProgress, queued = []*Execution{}, []*Execution{}
	for _, p := range l {
		if p.exec.Status == InProgress {
			inProgress = append(inProgress, p.exec)
		} else {
			queued = append(queued, p.exec)
		}
	}
	return inProgress, queued, nil
}

// StartNextInput is StartNextPendingJobExecution's input.
type StartNextInput struct {
	StatusDetails        map[string]string
	StepTimeoutInMinutes *int64
}

// StartNext is StartNextPendingJobExecution: the thing's IN_PROGRESS execution as it is, else
// its oldest QUEUED one moved to IN_PROGRESS. Nil when nothing is pending.
func (s *Service) StartNext(thing string, in StartNextInput) (*ExecutionView, []Publication, error) {
	if e := s.checkThrottle(thing); e != nil {
		return nil, nil, e
	}
	if msg := CheckStatusDetails(in.StatusDetails); msg != "" {
		return nil, nil, deviceError(CodeInvalidRequest, "%s", msg)
	}
	if m := in.StepTimeoutInMinutes; m != nil && (*m < 1 || *m > maxTimeoutMinutes) {
		return nil, nil, deviceError(CodeInvalidRequest, "stepTimeoutInMinutes: must be 1-10080, got %d", *m)
	}
	var out *ExecutionView
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		l, err := fx.pending(tx, thing)
		if err != nil || len(l) == 0 {
			return err
		}
		head := l[0]
		if head.exec.Status == Queued {
			setStepTimerQueued(head.exec, fx.now, in.StepTimeoutInMinutes)
			if err := s.setStatus(tx, fx, head.job, head.exec, InProgress, in.StatusDetails); err != nil {
				return err
			}
		}
		out = s.viewOf(head.exec, head.job, true, fx.now)
		return nil
	})
	if err != nil {
		return nil, nil, asDeviceError(err)
	}
	return out, pubs, nil
}

// setStepTimerQueued arms the step timer of an execution about to start.
func setStepTimerQueued(e *Execution, now time.Time, minutes *int64) {
	if minutes != nil && *minutes > 0 {
		e.StepDeadline = now.Add(time.Duration(*minutes) * time.Minute)
	}
}

// Describe is DescribeJobExecution: jobID may be "$next" (the head of the pending list; nil
// when nothing is pending). n selects an attempt (0: the latest).
func (s *Service) Describe(thing, jobID string, n int64, withDoc bool) (*ExecutionView, error) {
	if e := s.checkThrottle(thing); e != nil {
		return nil, e
	}
	now := s.now()
	var out *ExecutionView
	err := s.view(func(tx *bbolt.Tx) error {
		if jobID == "$next" {
			l, err := newEffects(s).pending(tx, thing)
			if err != nil || len(l) == 0 {
				return err
			}
			out = s.viewOf(l[0].exec, l[0].job, withDoc, now)
			return nil
		}
		j, err := getJob(tx, jobID)
		if err != nil {
			return err
		}
		if j == nil {
			return deviceError(CodeResourceNotFound, "Job %s does not exist", jobID)
		}
		e, err := getExec(tx, jobID, thing, n)
		if err != nil {
			return err
		}
		if e == nil {
			return deviceError(CodeResourceNotFound, "Job execution of job %s on thing %s does not exist", jobID, thing)
		}
		out = s.viewOf(e, j, withDoc, now)
		return nil
	})
	if err != nil {
		return nil, asDeviceError(err)
	}
	return out, nil
}

// UpdateInput is UpdateJobExecution's input.
type UpdateInput struct {
	Status                   ExecStatus
	StatusDetails            map[string]string
	ExpectedVersion          *int64
	ExecutionNumber          int64
	StepTimeoutInMinutes     *int64
	IncludeJobExecutionState bool
	IncludeJobDocument       bool
}

// UpdateResult is what UpdateJobExecution answers.
type UpdateResult struct {
	State    *ExecutionState // with IncludeJobExecutionState
	Document string          // with IncludeJobDocument
	HasDoc   bool
}

// Update is UpdateJobExecution: a device reports progress or the end of an execution.
func (s *Service) Update(thing, jobID string, in UpdateInput) (*UpdateResult, []Publication, error) {
	if e := s.checkThrottle(thing); e != nil {
		return nil, nil, e
	}
	if in.Status == "" {
		return nil, nil, deviceError(CodeInvalidRequest, "status: required (one of IN_PROGRESS, SUCCEEDED, FAILED, REJECTED)")
	}
	if !in.Status.Valid() || !deviceMaySet(in.Status) {
		return nil, nil, deviceError(CodeInvalidRequest, "status: a device may set IN_PROGRESS, SUCCEEDED, FAILED or REJECTED, not %q", in.Status)
	}
	if msg := CheckStatusDetails(in.StatusDetails); msg != "" {
		return nil, nil, deviceError(CodeInvalidRequest, "%s", msg)
	}
	if m := in.StepTimeoutInMinutes; m != nil && *m != -1 && (*m < 1 || *m > maxTimeoutMinutes) {
		return nil, nil, deviceError(CodeInvalidRequest, "stepTimeoutInMinutes: must be 1-10080, or -1 to cancel the step timer, got %d", *m)
	}
	out := &UpdateResult{}
	pubs, err := s.update(func(tx *bbolt.Tx, fx *effects) error {
		j, err := fx.job(tx, jobID)
		if err != nil {
			return err
		}
		if j == nil {
			return deviceError(CodeResourceNotFound, "Job %s does not exist", jobID)
		}
		e, err := getExec(tx, jobID, thing, in.ExecutionNumber)
		if err != nil {
			return err
		}
		if e == nil {
			return deviceError(CodeResourceNotFound, "Job execution of job %s on thing %s does not exist", jobID, thing)
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != e.VersionNumber {
			de := deviceError(CodeVersionMismatch, "The expected version %d does not match the execution's version %d", *in.ExpectedVersion, e.VersionNumber)
			de.State = stateOf(e)
			return de
		}
		if !deviceTransition(e.Status, in.Status) {
			de := deviceError(CodeInvalidStateTransition, "Cannot update the execution of job %s on thing %s from %s to %s", jobID, thing, e.Status, in.Status)
			de.State = stateOf(e)
			return de
		}
		if in.Status == InProgress {
			if e.Status == Queued {
				setStepTimerQueued(e, fx.now, in.StepTimeoutInMinutes)
			} else {
				setStepTimer(e, fx.now, in.StepTimeoutInMinutes)
			}
		}
		if err := s.setStatus(tx, fx, j, e, in.Status, in.StatusDetails); err != nil {
			return err
		}
		if in.IncludeJobExecutionState {
			out.State = stateOf(e)
		}
		if in.IncludeJobDocument {
			out.Document, out.HasDoc = s.deviceDocument(j, fx.now), true
		}
		return nil
	})
	if err != nil {
		return nil, nil, asDeviceError(err)
	}
	return out, pubs, nil
}

// asDeviceError keeps a *DeviceError and makes anything else an InternalError.
func asDeviceError(err error) *DeviceError {
	if de, ok := err.(*DeviceError); ok {
		return de
	}
	return deviceError(CodeInternalError, "%v", err)
}

package jobs

import (
	"time"

	"go.etcd.io/bbolt"
)

// queueExec creates a new QUEUED attempt of the job on the thing (number: the previous
// attempt's + 1, or 1), with version 1.
func (s *Service) queueExec(tx *bbolt.Tx, fx *effects, j *Job, thing string, retryAttempt int64) (*Execution, error) {
	if err := fx.touch(tx, thing); err != nil {
		return nil, err
	}
	prev, err := getExec(tx, j.JobID, thing, 0)
	if err != nil {
		return nil, err
	}
	n := int64(1)
	if prev != nil {
		n = prev.ExecutionNumber + 1
		j.Counts[prev.Status]--
	}
	e := &Execution{
		JobID: j.JobID, ThingName: thing, Status: Queued, QueuedAt: fx.now, LastUpdatedAt: fx.now,
		ExecutionNumber: n, VersionNumber: 1, RetryAttempt: retryAttempt,
	}
	j.Counts[Queued]++
	j.LastUpdatedAt = fx.now
	return e, putExec(tx, e)
}

// setStatus moves an execution (the latest attempt of its thing) to status to, bumping its
// version, and does what the new status implies: timers, events, retries.
func (s *Service) setStatus(tx *bbolt.Tx, fx *effects, j *Job, e *Execution, to ExecStatus, details map[string]string) error {
	if err := fx.touch(tx, e.ThingName); err != nil {
		return err
	}
	from := e.Status
	if details != nil {
		e.StatusDetails = details
	}
	e.Status = to
	e.VersionNumber++
	e.LastUpdatedAt = fx.now
	if from != to {
		j.Counts[from]--
		j.Counts[to]++
	}
	j.LastUpdatedAt = fx.now
	if to == InProgress && from == Queued {
		e.StartedAt = fx.now
		if j.Timeout != nil && j.Timeout.InProgressTimeoutInMinutes != nil {
			e.ProgressDeadline = fx.now.Add(time.Duration(*j.Timeout.InProgressTimeoutInMinutes) * time.Minute)
		}
	}
	if to.Terminal() {
		e.StepDeadline, e.ProgressDeadline = time.Time{}, time.Time{}
		s.execEvent(fx, j, e)
		if to == Succeeded && j.Rollout != nil && j.Rollout.ExponentialRate != nil &&
			j.Rollout.ExponentialRate.RateIncreaseCriteria.NumberOfSucceededThings != nil {
			j.SinceIncrease++
			fx.pokeTimers = true
		}
	}
	if err := putExec(tx, e); err != nil {
		return err
	}
	if d := e.Deadline(); !d.IsZero() {
		fx.deadlines = append(fx.deadlines, deadline{at: d, job: e.JobID, thing: e.ThingName, number: e.ExecutionNumber})
	}
	if (to == Failed || to == TimedOut) && j.Status == JobInProgress && e.RetryAttempt < retriesAllowed(j.Retry, to) {
		if _, err := s.queueExec(tx, fx, j, e.ThingName, e.RetryAttempt+1); err != nil {
			return err
		}
	}
	return nil
}

// setStepTimer arms (minutes > 0) or clears (minutes < 0) the step timer of an IN_PROGRESS
// execution; it never outlives the in-progress timer (Deadline takes the earlier).
func setStepTimer(e *Execution, now time.Time, minutes *int64) {
	if minutes == nil || e.Status != InProgress {
		return
	}
	if *minutes < 0 {
		e.StepDeadline = time.Time{}
		return
	}
	e.StepDeadline = now.Add(time.Duration(*minutes) * time.Minute)
}

// checkCompleted completes a snapshot job whose every target has been queued and whose every
// execution is terminal.
func (s *Service) checkCompleted(fx *effects, j *Job) {
	if j.Status != JobInProgress || j.TargetSelection == Continuous || j.PendingCount > 0 {
		return
	}
	if j.Counts[Queued] > 0 || j.Counts[InProgress] > 0 {
		return
	}
	j.Status = JobCompleted
	j.CompletedAt = fx.now
	j.LastUpdatedAt = fx.now
	s.jobEvent(fx, j, "completed")
}

// checkAbort cancels a job whose failures reached one of its abort criteria.
func (s *Service) checkAbort(tx *bbolt.Tx, fx *effects, j *Job) error {
	if j.Abort == nil || j.Status != JobInProgress {
		return nil
	}
	executed := j.Counts[Succeeded] + j.Counts[Failed] + j.Counts[Rejected] + j.Counts[TimedOut]
	for _, c := range j.Abort.CriteriaList {
		if executed < c.MinNumberOfExecutedThings || executed == 0 {
			continue
		}
		var failed int64
		for _, st := range []ExecStatus{Failed, Rejected, TimedOut} {
			if failureCounts(st, c.FailureType) {
				failed += j.Counts[st]
			}
		}
		if float64(failed)*100 >= c.ThresholdPercentage*float64(executed) {
			s.log.Info("job aborted by its abort criteria", "job", j.JobID, "failureType", c.FailureType,
				"failed", failed, "executed", executed)
			return s.cancelJobTx(tx, fx, j, false, "", "Job aborted: the failures reached the abort criteria")
		}
	}
	return nil
}

// cancelJobTx cancels a job: its QUEUED executions (and IN_PROGRESS ones with force) end
// CANCELED, its targets not yet reached never will be.
func (s *Service) cancelJobTx(tx *bbolt.Tx, fx *effects, j *Job, force bool, reason, comment string) error {
	j.Status = JobCanceled
	j.ForceCanceled = j.ForceCanceled || force
	if reason != "" {
		j.ReasonCode = reason
	}
	if comment != "" {
		j.Comment = comment
	}
	j.LastUpdatedAt = fx.now
	j.CompletedAt = fx.now
	if err := dropPending(tx, j); err != nil {
		return err
	}
	var ends []*Execution
	err := eachExec(tx, j.JobID, func(e *Execution) error {
		if cancelTransition(e.Status, force) {
			ends = append(ends, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range ends {
		e.ForceCanceled = e.Status == InProgress
		if err := s.setStatus(tx, fx, j, e, Canceled, nil); err != nil {
			return err
		}
	}
	s.jobEvent(fx, j, "canceled")
	return nil
}

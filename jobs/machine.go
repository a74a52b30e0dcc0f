package jobs

// The execution state machine (AWS IoT Jobs' lifecycle):
//
//	(none)      → QUEUED                       service: rollout, continuous membership, retry
//	QUEUED      → IN_PROGRESS|SUCCEEDED|FAILED|REJECTED   device
//	IN_PROGRESS → IN_PROGRESS|SUCCEEDED|FAILED|REJECTED   device (IN_PROGRESS again renews details/step timer)
//	IN_PROGRESS → TIMED_OUT                    service: step or in-progress timer
//	QUEUED      → CANCELED                     CancelJob, CancelJobExecution, abort
//	IN_PROGRESS → CANCELED                     the same with force
//	QUEUED|IN_PROGRESS → REMOVED               service: the thing is no longer a target
//	terminal    → anything                     refused (InvalidStateTransition)
//
// QUEUED straight to SUCCEEDED or FAILED is neither documented as allowed nor as refused; the
// emulator allows it (docs/jobs.md).

// DeviceStatuses are the statuses a device may ask for.
var DeviceStatuses = []ExecStatus{InProgress, Succeeded, Failed, Rejected}

// deviceMaySet reports whether a device may ask for status to.
func deviceMaySet(to ExecStatus) bool {
	for _, s := range DeviceStatuses {
		if s == to {
			return true
		}
	}
	return false
}

// deviceTransition reports whether a device may move an execution from one status to another.
func deviceTransition(from, to ExecStatus) bool {
	return !from.Terminal() && deviceMaySet(to)
}

// cancelTransition reports whether a cancel (force or not) ends an execution in status from.
func cancelTransition(from ExecStatus, force bool) bool {
	return from == Queued || (from == InProgress && force)
}

// failureCounts reports whether an execution that ended in status counts against an abort
// criterion of failureType.
func failureCounts(status ExecStatus, failureType string) bool {
	switch failureType {
	case "ALL":
		return status == Failed || status == Rejected || status == TimedOut
	case "FAILED":
		return status == Failed
	case "REJECTED":
		return status == Rejected
	case "TIMED_OUT":
		return status == TimedOut
	}
	return false
}

// retriesAllowed is the number of retries the job allows after an execution ended in status
// (FAILED or TIMED_OUT; the others are never retried).
func retriesAllowed(cfg *RetryConfig, status ExecStatus) int64 {
	if cfg == nil || (status != Failed && status != TimedOut) {
		return 0
	}
	var n int64
	for _, c := range cfg.CriteriaList {
		if c.FailureType == "ALL" || c.FailureType == string(status) {
			n = max(n, c.NumberOfRetries)
		}
	}
	return n
}

package jobs

import (
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode"
)

var (
	jobIDRE        = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	thingNameRE    = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	reasonCodeRE   = regexp.MustCompile(`^[\p{Lu}\p{Nd}_]{1,128}$`)
	detailsKeyRE   = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
	failureTypesOK = map[string]bool{"FAILED": true, "REJECTED": true, "TIMED_OUT": true, "ALL": true}
)

// Limits of the model.
const (
	maxDescription    = 2028
	maxComment        = 2028
	maxDetailsPairs   = 10
	maxDetailsValue   = 1024
	maxTimeoutMinutes = 10080
	maxTargets        = 100
)

func checkJobID(field, id string) *Error {
	if !jobIDRE.MatchString(id) {
		return newError(ErrInvalidRequest, "%s: %q must be 1-64 characters of a-z, A-Z, 0-9, '_' and '-'", field, id)
	}
	return nil
}

func checkText(field, v string, max int) *Error {
	if len(v) > max {
		return newError(ErrInvalidRequest, "%s: %d characters, at most %d are allowed", field, len(v), max)
	}
	for _, r := range v {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return newError(ErrInvalidRequest, "%s: control characters are not allowed", field)
		}
	}
	return nil
}

// CheckStatusDetails applies AWS's statusDetails rules: at most 10 pairs, keys 1-128 characters
// of a-z, A-Z, 0-9, ':', '_', '-', values 1-1024 characters without control characters.
func CheckStatusDetails(d map[string]string) string {
	if len(d) > maxDetailsPairs {
		return "statusDetails: " + strconv.Itoa(len(d)) + " pairs, at most 10 are allowed"
	}
	for k, v := range d {
		if !detailsKeyRE.MatchString(k) {
			return "statusDetails: key \"" + k + "\" must be 1-128 characters of a-z, A-Z, 0-9, ':', '_' and '-'"
		}
		if len(v) < 1 || len([]rune(v)) > maxDetailsValue {
			return "statusDetails." + k + ": the value must be 1-1024 characters"
		}
		for _, r := range v {
			if unicode.IsControl(r) {
				return "statusDetails." + k + ": control characters are not allowed"
			}
		}
	}
	return ""
}

func checkRollout(r *RolloutConfig) *Error {
	if r == nil {
		return nil
	}
	if r.MaximumPerMinute != nil && r.ExponentialRate != nil {
		return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig: give maximumPerMinute or exponentialRate, not both")
	}
	if r.MaximumPerMinute != nil && (*r.MaximumPerMinute < 1 || *r.MaximumPerMinute > 1000) {
		return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig.maximumPerMinute: must be 1-1000, got %d", *r.MaximumPerMinute)
	}
	if e := r.ExponentialRate; e != nil {
		if e.BaseRatePerMinute < 1 || e.BaseRatePerMinute > 1000 {
			return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute: must be 1-1000, got %d", e.BaseRatePerMinute)
		}
		if e.IncrementFactor <= 1 || e.IncrementFactor > 5 || math.Round(e.IncrementFactor*10) != e.IncrementFactor*10 {
			return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig.exponentialRate.incrementFactor: must be more than 1 and at most 5, with one decimal, got %v", e.IncrementFactor)
		}
		c := e.RateIncreaseCriteria
		if (c.NumberOfNotifiedThings == nil) == (c.NumberOfSucceededThings == nil) {
			return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria: give exactly one of numberOfNotifiedThings and numberOfSucceededThings")
		}
		for _, n := range []*int64{c.NumberOfNotifiedThings, c.NumberOfSucceededThings} {
			if n != nil && *n < 1 {
				return newError(ErrInvalidRequest, "jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria: the number must be at least 1")
			}
		}
	}
	return nil
}

func checkAbortConfig(a *AbortConfig) *Error {
	if a == nil {
		return nil
	}
	if len(a.CriteriaList) == 0 {
		return newError(ErrInvalidRequest, "abortConfig.criteriaList: at least one criterion is required")
	}
	for i, c := range a.CriteriaList {
		if !failureTypesOK[c.FailureType] {
			return newError(ErrInvalidRequest, "abortConfig.criteriaList[%d].failureType: must be FAILED, REJECTED, TIMED_OUT or ALL, got %q", i, c.FailureType)
		}
		if c.Action != "CANCEL" {
			return newError(ErrInvalidRequest, "abortConfig.criteriaList[%d].action: must be CANCEL, got %q", i, c.Action)
		}
		if c.ThresholdPercentage <= 0 || c.ThresholdPercentage > 100 {
			return newError(ErrInvalidRequest, "abortConfig.criteriaList[%d].thresholdPercentage: must be more than 0 and at most 100", i)
		}
		if c.MinNumberOfExecutedThings < 1 {
			return newError(ErrInvalidRequest, "abortConfig.criteriaList[%d].minNumberOfExecutedThings: must be at least 1", i)
		}
	}
	return nil
}

func checkTimeout(t *TimeoutConfig) *Error {
	if t == nil || t.InProgressTimeoutInMinutes == nil {
		return nil
	}
	if m := *t.InProgressTimeoutInMinutes; m < 1 || m > maxTimeoutMinutes {
		return newError(ErrInvalidRequest, "timeoutConfig.inProgressTimeoutInMinutes: must be 1-10080, got %d", m)
	}
	return nil
}

func checkRetry(r *RetryConfig) *Error {
	if r == nil {
		return nil
	}
	if len(r.CriteriaList) < 1 || len(r.CriteriaList) > 2 {
		return newError(ErrInvalidRequest, "jobExecutionsRetryConfig.criteriaList: 1 or 2 criteria, got %d", len(r.CriteriaList))
	}
	for i, c := range r.CriteriaList {
		if c.FailureType != "FAILED" && c.FailureType != "TIMED_OUT" && c.FailureType != "ALL" {
			return newError(ErrInvalidRequest, "jobExecutionsRetryConfig.criteriaList[%d].failureType: must be FAILED, TIMED_OUT or ALL, got %q", i, c.FailureType)
		}
		if c.NumberOfRetries < 0 || c.NumberOfRetries > 10 {
			return newError(ErrInvalidRequest, "jobExecutionsRetryConfig.criteriaList[%d].numberOfRetries: must be 0-10", i)
		}
	}
	return nil
}

func checkPresigned(p *PresignedURLConfig) *Error {
	if p == nil || p.ExpiresInSec == nil {
		return nil
	}
	if v := *p.ExpiresInSec; v < 60 || v > 3600 {
		return newError(ErrInvalidRequest, "presignedUrlConfig.expiresInSec: must be 60-3600, got %d", v)
	}
	return nil
}

// scheduleLayout is the form of schedulingConfig times: date YYYY-MM-DD and time HH:MM (UTC).
var scheduleLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339, "2006-01-02T15:04Z"}

func parseScheduleTime(field, v string) (time.Time, *Error) {
	for _, l := range scheduleLayouts {
		if t, err := time.Parse(l, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, newError(ErrInvalidRequest, "%s: %q is not a date and time YYYY-MM-DDTHH:MM", field, v)
}

func checkScheduling(c *SchedulingConfig, now time.Time) (start, end time.Time, e *Error) {
	if c == nil {
		return
	}
	if c.StartTime != "" {
		if start, e = parseScheduleTime("schedulingConfig.startTime", c.StartTime); e != nil {
			return
		}
	}
	if c.EndTime != "" {
		if end, e = parseScheduleTime("schedulingConfig.endTime", c.EndTime); e != nil {
			return
		}
		if !start.IsZero() && !end.After(start) {
			e = newError(ErrInvalidRequest, "schedulingConfig.endTime: must be after startTime")
			return
		}
	}
	switch c.EndBehavior {
	case "", "STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL":
	default:
		e = newError(ErrInvalidRequest, "schedulingConfig.endBehavior: must be STOP_ROLLOUT, CANCEL or FORCE_CANCEL, got %q", c.EndBehavior)
	}
	return
}

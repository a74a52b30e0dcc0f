package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/iotcore-local/iotcore-local/jobs"
)

// SeedJob is a job to create at start when no job of that ID exists. Targets are thing names,
// "thing:NAME", "group:NAME" or ARNs; Document is the job document as a JSON/YAML object or as a
// JSON string.
type SeedJob struct {
	JobID           string          `json:"jobId"`
	Targets         []string        `json:"targets"`
	Document        json.RawMessage `json:"document"`
	TargetSelection string          `json:"targetSelection"`
	Description     string          `json:"description"`
}

// documentText is the document as JSON text.
func (j SeedJob) documentText() string {
	var s string
	if json.Unmarshal(j.Document, &s) == nil {
		return s
	}
	return string(j.Document)
}

// validateSeedJobs checks the seed's jobs before anything is written.
func validateSeedJobs(list []SeedJob) []error {
	var errs []error
	for i, j := range list {
		where := fmt.Sprintf("jobs[%d]", i)
		if j.JobID == "" {
			errs = append(errs, fmt.Errorf("%s.jobId: required", where))
		}
		if len(j.Targets) == 0 {
			errs = append(errs, fmt.Errorf("%s (%s).targets: at least one thing or thing group is required", where, j.JobID))
		}
		if len(j.Document) == 0 || string(j.Document) == "null" {
			errs = append(errs, fmt.Errorf("%s (%s).document: required", where, j.JobID))
		} else if !json.Valid([]byte(j.documentText())) {
			errs = append(errs, fmt.Errorf("%s (%s).document: not valid JSON", where, j.JobID))
		}
		switch j.TargetSelection {
		case "", jobs.Snapshot, jobs.Continuous:
		default:
			errs = append(errs, fmt.Errorf("%s (%s).targetSelection: %q is neither SNAPSHOT nor CONTINUOUS", where, j.JobID, j.TargetSelection))
		}
	}
	return errs
}

// applySeedJobs creates the seed's jobs that do not exist yet.
func (e *Emulator) applySeedJobs(list []SeedJob) error {
	for i, j := range list {
		if _, err := e.jobs.DescribeJob(j.JobID); err == nil {
			continue
		} else if !errors.Is(err, jobs.ErrNotFound) {
			return fmt.Errorf("jobs[%d] (%s): %w", i, j.JobID, err)
		}
		in := jobs.CreateJobInput{JobID: j.JobID, Document: j.documentText(), TargetSelection: j.TargetSelection, Description: j.Description}
		for _, t := range j.Targets {
			in.Targets = append(in.Targets, e.seedTargetARN(t))
		}
		if _, err := e.jobs.CreateJob(in); err != nil {
			return fmt.Errorf("jobs[%d] (%s): %w", i, j.JobID, err)
		}
		e.log.Info("seed job created", "job", j.JobID)
	}
	return nil
}

// seedTargetARN turns a seed target into an ARN.
func (e *Emulator) seedTargetARN(t string) string {
	switch {
	case strings.HasPrefix(t, "arn:"):
		return t
	case strings.HasPrefix(t, "group:"):
		return e.registry.ThingGroupARN(strings.TrimPrefix(t, "group:"))
	}
	return e.registry.ThingARN(strings.TrimPrefix(t, "thing:"))
}

package jobs

import (
	"encoding/json"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
)

// CreateTemplateInput is CreateJobTemplate's input.
type CreateTemplateInput struct {
	JobTemplateID      string              `json:"-"`
	JobARN             string              `json:"jobArn,omitempty"`
	Document           string              `json:"document,omitempty"`
	DocumentSource     string              `json:"documentSource,omitempty"`
	Description        string              `json:"description"`
	PresignedURLConfig *PresignedURLConfig `json:"presignedUrlConfig,omitempty"`
	Rollout            *RolloutConfig      `json:"jobExecutionsRolloutConfig,omitempty"`
	Abort              *AbortConfig        `json:"abortConfig,omitempty"`
	Timeout            *TimeoutConfig      `json:"timeoutConfig,omitempty"`
	Retry              *RetryConfig        `json:"jobExecutionsRetryConfig,omitempty"`
	MaintenanceWindows []MaintenanceWindow `json:"maintenanceWindows,omitempty"`
	DestinationPkgs    []string            `json:"destinationPackageVersions,omitempty"`
	Tags               []Tag               `json:"tags,omitempty"`
}

// TemplateARN is the ARN of a job template.
func (s *Service) TemplateARN(id string) string { return s.arn("jobtemplate/" + id) }

// CreateTemplate creates a job template, from a document or from an existing job (jobArn).
func (s *Service) CreateTemplate(in CreateTemplateInput) (*Template, error) {
	now := s.now()
	if e := checkJobID("jobTemplateId", in.JobTemplateID); e != nil {
		return nil, e
	}
	if in.Description == "" {
		return nil, newError(ErrInvalidRequest, "description: required")
	}
	if e := checkText("description", in.Description, maxDescription); e != nil {
		return nil, e
	}
	t := &Template{
		JobTemplateID: in.JobTemplateID, JobTemplateARN: s.TemplateARN(in.JobTemplateID), Description: in.Description,
		Document: in.Document, DocumentSource: in.DocumentSource, PresignedURLConfig: in.PresignedURLConfig,
		Rollout: in.Rollout, Abort: in.Abort, Timeout: in.Timeout, Retry: in.Retry,
		MaintenanceWindows: in.MaintenanceWindows, DestinationPkgs: in.DestinationPkgs, CreatedAt: now,
	}
	if in.JobARN != "" {
		id, ok := strings.CutPrefix(in.JobARN, s.arn("job/"))
		if !ok {
			return nil, newError(ErrInvalidRequest, "jobArn: %q is not a job ARN of this account", in.JobARN)
		}
		j, err := s.DescribeJob(id)
		if err != nil {
			return nil, err
		}
		if t.Document == "" && t.DocumentSource == "" {
			t.Document, t.DocumentSource = j.RawDocument, j.DocumentSource
		}
		if t.PresignedURLConfig == nil {
			t.PresignedURLConfig = j.PresignedURLConfig
		}
		if t.Rollout == nil {
			t.Rollout = j.Rollout
		}
		if t.Abort == nil {
			t.Abort = j.Abort
		}
		if t.Timeout == nil {
			t.Timeout = j.Timeout
		}
		if t.Retry == nil {
			t.Retry = j.Retry
		}
	}
	if t.Document == "" && t.DocumentSource == "" {
		return nil, newError(ErrInvalidRequest, "document, documentSource, jobArn: give one of them")
	}
	if t.Document != "" {
		if e := checkDocument(t.Document); e != nil {
			return nil, e
		}
	}
	if e := firstError(checkRollout(t.Rollout), checkAbortConfig(t.Abort), checkTimeout(t.Timeout), checkRetry(t.Retry), checkPresigned(t.PresignedURLConfig)); e != nil {
		return nil, e
	}
	data, err := json.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("jobs: encode template: %w", err)
	}
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTemplates)
		if b.Get([]byte(t.JobTemplateID)) != nil {
			return newError(ErrConflict, "Job template %s already exists", t.JobTemplateID)
		}
		return b.Put([]byte(t.JobTemplateID), data)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DescribeTemplate returns a job template.
func (s *Service) DescribeTemplate(id string) (*Template, error) {
	var t *Template
	err := s.view(func(tx *bbolt.Tx) error {
		data := tx.Bucket(bucketTemplates).Get([]byte(id))
		if data == nil {
			return nil
		}
		t = &Template{}
		return json.Unmarshal(data, t)
	})
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, newError(ErrNotFound, "Job template %s does not exist", id)
	}
	return t, nil
}

// ListTemplates lists job templates by ID.
func (s *Service) ListTemplates(next string, max int) ([]*Template, string, error) {
	var all []*Template
	err := s.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTemplates).ForEach(func(_, v []byte) error {
			t := &Template{}
			if err := json.Unmarshal(v, t); err != nil {
				return err
			}
			all = append(all, t)
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return page(all, func(t *Template) string { return t.JobTemplateID }, next, max)
}

// DeleteTemplate deletes a job template.
func (s *Service) DeleteTemplate(id string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTemplates)
		if b.Get([]byte(id)) == nil {
			return newError(ErrNotFound, "Job template %s does not exist", id)
		}
		return b.Delete([]byte(id))
	})
}

// applyTemplate fills what CreateJob's input leaves out from the template it names. A document
// given with the template is refused, as on AWS.
func (s *Service) applyTemplate(in *CreateJobInput) error {
	id, ok := strings.CutPrefix(in.JobTemplateARN, s.arn("jobtemplate/"))
	if !ok {
		return newError(ErrInvalidRequest, "jobTemplateArn: %q is not a job template ARN of this account", in.JobTemplateARN)
	}
	t, err := s.DescribeTemplate(id)
	if err != nil {
		return err
	}
	if in.Document != "" || in.DocumentSource != "" {
		return newError(ErrInvalidRequest, "document, documentSource: not allowed with jobTemplateArn; the template's document is used")
	}
	in.Document, in.DocumentSource = t.Document, t.DocumentSource
	if in.Description == "" {
		in.Description = t.Description
	}
	if in.PresignedURLConfig == nil {
		in.PresignedURLConfig = t.PresignedURLConfig
	}
	if in.Rollout == nil {
		in.Rollout = t.Rollout
	}
	if in.Abort == nil {
		in.Abort = t.Abort
	}
	if in.Timeout == nil {
		in.Timeout = t.Timeout
	}
	if in.Retry == nil {
		in.Retry = t.Retry
	}
	return nil
}

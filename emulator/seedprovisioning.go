package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/iotcore-local/iotcore-local/provisioning"
)

// SeedProvisioningTemplate is a fleet provisioning (or JITP) template. Body is the template as a
// JSON/YAML object or as a JSON string. Enabled defaults to true here (AWS's API default is
// false, which is rarely what a seed means).
type SeedProvisioningTemplate struct {
	Name        string          `json:"name"`
	Body        json.RawMessage `json:"body"`
	Type        string          `json:"type"`
	Enabled     *bool           `json:"enabled"`
	Description string          `json:"description"`
	RoleARN     string          `json:"roleArn"`
	HookARN     string          `json:"hookArn"`
}

// SeedClaimCertificate is a claim certificate for fleet provisioning by claim: an ACTIVE
// certificate with a policy allowing the provisioning topics of Template, its files written to
// Out (kept across runs, like a seed certificate's).
type SeedClaimCertificate struct {
	Template string `json:"template"`
	Out      string `json:"out"`
}

// seedRoleARN is the provisioning role of seeded templates without one.
const seedRoleARN = "arn:aws:iam::123456789012:role/iotcore-local-provisioning"

func (t SeedProvisioningTemplate) bodyText() string {
	var s string
	if json.Unmarshal(t.Body, &s) == nil {
		return s
	}
	return string(t.Body)
}

func (t SeedProvisioningTemplate) typ() provisioning.TemplateType {
	if t.Type == "" {
		return provisioning.FleetProvisioning
	}
	return provisioning.TemplateType(t.Type)
}

// validateProvisioningSeed checks the templates and claims before anything is written.
func (e *Emulator) validateProvisioningSeed(seed *Seed) error {
	var errs []error
	declared := map[string]bool{}
	for i, t := range seed.ProvisioningTemplates {
		where := fmt.Sprintf("provisioningTemplates[%d]", i)
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s.name: required", where))
		}
		declared[t.Name] = true
		if len(t.Body) == 0 || string(t.Body) == "null" {
			errs = append(errs, fmt.Errorf("%s (%s).body: required", where, t.Name))
			continue
		}
		if _, err := provisioning.ParseBody(t.bodyText(), t.typ()); err != nil {
			errs = append(errs, fmt.Errorf("%s (%s).body: %w", where, t.Name, err))
		}
	}
	for i, c := range seed.ClaimCertificates {
		where := fmt.Sprintf("claimCertificates[%d]", i)
		if c.Out == "" {
			errs = append(errs, fmt.Errorf("%s.out: required", where))
		}
		if c.Template == "" {
			errs = append(errs, fmt.Errorf("%s.template: required", where))
		} else if _, err := e.provisioning.DescribeTemplate(c.Template); err != nil && !declared[c.Template] {
			errs = append(errs, fmt.Errorf("%s.template: %q is neither declared in provisioningTemplates nor created", where, c.Template))
		}
	}
	return errors.Join(errs...)
}

// applyProvisioningSeed creates the templates that are missing (a template whose body changed
// gets a new default version) and the claim certificates.
func (e *Emulator) applyProvisioningSeed(ctx context.Context, seed *Seed, baseDir string) error {
	for _, t := range seed.ProvisioningTemplates {
		body := t.bodyText()
		existing, err := e.provisioning.DescribeTemplate(t.Name)
		switch {
		case err == nil:
			if !sameJSON(existing.Body, body) {
				if _, _, err := e.provisioning.CreateVersion(t.Name, body, true); err != nil {
					return fmt.Errorf("provisioning template %s: new version: %w", t.Name, err)
				}
			}
			continue
		case !errors.Is(err, provisioning.ErrNotFound):
			return fmt.Errorf("provisioning template %s: %w", t.Name, err)
		}
		in := provisioning.CreateTemplateInput{
			Name: t.Name, Body: body, Type: t.typ(), Enabled: t.Enabled == nil || *t.Enabled,
			Description: t.Description, RoleARN: t.RoleARN,
		}
		if in.RoleARN == "" {
			in.RoleARN = seedRoleARN
		}
		if t.HookARN != "" {
			in.Hook = &provisioning.Hook{TargetARN: t.HookARN, PayloadVersion: "2020-04-01"}
		}
		if _, err := e.provisioning.CreateTemplate(in); err != nil {
			return fmt.Errorf("provisioning template %s: %w", t.Name, err)
		}
	}
	for _, c := range seed.ClaimCertificates {
		if err := ctx.Err(); err != nil {
			return err
		}
		policy := "iotcore-local-claim-" + c.Template
		if err := e.ensurePolicy(policy, e.provisioning.ClaimPolicyDocument(c.Template)); err != nil {
			return err
		}
		out := c.Out
		if !filepath.IsAbs(out) {
			out = filepath.Join(baseDir, out)
		}
		id, err := e.ensureSeedCertificate(SeedCertificate{Policies: []string{policy}, Out: out}, out)
		if err != nil {
			return fmt.Errorf("claim certificate for %s in %s: %w", c.Template, out, err)
		}
		e.log.Info("seed claim certificate ready", "template", c.Template, "certificate", id, "policy", policy, "out", out)
	}
	return nil
}

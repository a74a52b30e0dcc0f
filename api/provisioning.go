package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/iotcore-local/iotcore-local/provisioning"
	"github.com/iotcore-local/iotcore-local/registry"
)

// provisioningRoutes adds the provisioning template operations when there is a provisioning
// service (Config.Provisioning).
func (s *server) provisioningRoutes(rt *router) {
	if s.cfg.Provisioning == nil {
		return
	}
	rt.add(http.MethodPost, "/provisioning-templates", "CreateProvisioningTemplate", s.createProvisioningTemplate)
	rt.add(http.MethodGet, "/provisioning-templates", "ListProvisioningTemplates", s.listProvisioningTemplates)
	rt.add(http.MethodGet, "/provisioning-templates/{templateName}", "DescribeProvisioningTemplate", s.describeProvisioningTemplate)
	rt.add(http.MethodPatch, "/provisioning-templates/{templateName}", "UpdateProvisioningTemplate", s.updateProvisioningTemplate)
	rt.add(http.MethodDelete, "/provisioning-templates/{templateName}", "DeleteProvisioningTemplate", s.deleteProvisioningTemplate)
	rt.add(http.MethodPost, "/provisioning-templates/{templateName}/versions", "CreateProvisioningTemplateVersion", s.createProvisioningTemplateVersion)
	rt.add(http.MethodGet, "/provisioning-templates/{templateName}/versions", "ListProvisioningTemplateVersions", s.listProvisioningTemplateVersions)
	rt.add(http.MethodGet, "/provisioning-templates/{templateName}/versions/{versionId}", "DescribeProvisioningTemplateVersion", s.describeProvisioningTemplateVersion)
	rt.add(http.MethodDelete, "/provisioning-templates/{templateName}/versions/{versionId}", "DeleteProvisioningTemplateVersion", s.deleteProvisioningTemplateVersion)
	rt.add(http.MethodPost, "/provisioning-templates/{templateName}/provisioning-claim", "CreateProvisioningClaim", s.createProvisioningClaim)
	rt.add(http.MethodPost, "/things", "RegisterThing", s.registerThing)
}

// preProvisioningHook is the wire form of a template's hook.
type preProvisioningHook struct {
	TargetArn      *string `json:"targetArn"`
	PayloadVersion string  `json:"payloadVersion,omitempty"`
}

func (h *preProvisioningHook) hook() (*provisioning.Hook, error) {
	if h == nil {
		return nil, nil
	}
	if h.TargetArn == nil || *h.TargetArn == "" {
		return nil, invalidRequest("preProvisioningHook.targetArn: required")
	}
	return &provisioning.Hook{TargetARN: *h.TargetArn, PayloadVersion: h.PayloadVersion}, nil
}

func hookOut(h *provisioning.Hook) *preProvisioningHook {
	if h == nil {
		return nil
	}
	arn := h.TargetARN
	return &preProvisioningHook{TargetArn: &arn, PayloadVersion: h.PayloadVersion}
}

type createProvisioningTemplateRequest struct {
	TemplateName        *string              `json:"templateName"`
	Description         string               `json:"description"`
	TemplateBody        *string              `json:"templateBody"`
	Enabled             bool                 `json:"enabled"`
	ProvisioningRoleArn *string              `json:"provisioningRoleArn"`
	PreProvisioningHook *preProvisioningHook `json:"preProvisioningHook"`
	Tags                []tag                `json:"tags"`
	Type                string               `json:"type"`
}

type createProvisioningTemplateResponse struct {
	TemplateArn      string `json:"templateArn"`
	TemplateName     string `json:"templateName"`
	DefaultVersionID int    `json:"defaultVersionId"`
}

// createProvisioningTemplate is CreateProvisioningTemplate: POST /provisioning-templates.
func (s *server) createProvisioningTemplate(c *call) (any, error) {
	var in createProvisioningTemplateRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	switch {
	case in.TemplateName == nil:
		return nil, invalidRequest("templateName: required")
	case in.TemplateBody == nil:
		return nil, invalidRequest("templateBody: required")
	case in.ProvisioningRoleArn == nil:
		return nil, invalidRequest("provisioningRoleArn: required")
	}
	hook, err := in.PreProvisioningHook.hook()
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range in.Tags {
		tags[t.Key] = t.Value
	}
	t, err := s.cfg.Provisioning.CreateTemplate(provisioning.CreateTemplateInput{
		Name: *in.TemplateName, Description: in.Description, Body: *in.TemplateBody, RoleARN: *in.ProvisioningRoleArn,
		Enabled: in.Enabled, Hook: hook, Type: provisioning.TemplateType(in.Type), Tags: tags,
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return createProvisioningTemplateResponse{TemplateArn: t.ARN, TemplateName: t.Name, DefaultVersionID: t.DefaultVersionID}, nil
}

type describeProvisioningTemplateResponse struct {
	TemplateArn         string               `json:"templateArn"`
	TemplateName        string               `json:"templateName"`
	Description         string               `json:"description,omitempty"`
	CreationDate        epochSeconds         `json:"creationDate"`
	LastModifiedDate    epochSeconds         `json:"lastModifiedDate"`
	DefaultVersionID    int                  `json:"defaultVersionId"`
	TemplateBody        string               `json:"templateBody"`
	Enabled             bool                 `json:"enabled"`
	ProvisioningRoleArn string               `json:"provisioningRoleArn"`
	PreProvisioningHook *preProvisioningHook `json:"preProvisioningHook,omitempty"`
	Type                string               `json:"type"`
}

func (s *server) describeProvisioningTemplate(c *call) (any, error) {
	t, err := s.cfg.Provisioning.DescribeTemplate(c.vars["templateName"])
	if err != nil {
		return nil, serviceError(err)
	}
	return describeProvisioningTemplateResponse{
		TemplateArn: t.ARN, TemplateName: t.Name, Description: t.Description,
		CreationDate: epochSeconds(t.CreationDate), LastModifiedDate: epochSeconds(t.LastModifiedDate),
		DefaultVersionID: t.DefaultVersionID, TemplateBody: t.Body, Enabled: t.Enabled,
		ProvisioningRoleArn: t.RoleARN, PreProvisioningHook: hookOut(t.Hook), Type: string(t.Type),
	}, nil
}

type updateProvisioningTemplateRequest struct {
	Description               *string              `json:"description"`
	Enabled                   *bool                `json:"enabled"`
	DefaultVersionID          *int                 `json:"defaultVersionId"`
	ProvisioningRoleArn       *string              `json:"provisioningRoleArn"`
	PreProvisioningHook       *preProvisioningHook `json:"preProvisioningHook"`
	RemovePreProvisioningHook bool                 `json:"removePreProvisioningHook"`
}

func (s *server) updateProvisioningTemplate(c *call) (any, error) {
	var in updateProvisioningTemplateRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	hook, err := in.PreProvisioningHook.hook()
	if err != nil {
		return nil, err
	}
	err = s.cfg.Provisioning.UpdateTemplate(c.vars["templateName"], provisioning.UpdateTemplateInput{
		Description: in.Description, Enabled: in.Enabled, DefaultVersionID: in.DefaultVersionID,
		RoleARN: in.ProvisioningRoleArn, Hook: hook, RemoveHook: in.RemovePreProvisioningHook,
	})
	if err != nil {
		return nil, serviceError(err)
	}
	return struct{}{}, nil
}

func (s *server) deleteProvisioningTemplate(c *call) (any, error) {
	if err := s.cfg.Provisioning.DeleteTemplate(c.vars["templateName"]); err != nil {
		return nil, serviceError(err)
	}
	return struct{}{}, nil
}

type provisioningTemplateSummary struct {
	TemplateArn      string       `json:"templateArn"`
	TemplateName     string       `json:"templateName"`
	Description      string       `json:"description,omitempty"`
	CreationDate     epochSeconds `json:"creationDate"`
	LastModifiedDate epochSeconds `json:"lastModifiedDate"`
	Enabled          bool         `json:"enabled"`
	Type             string       `json:"type"`
}

type listProvisioningTemplatesResponse struct {
	Templates []provisioningTemplateSummary `json:"templates"`
	NextToken string                        `json:"nextToken,omitempty"`
}

func (s *server) listProvisioningTemplates(c *call) (any, error) {
	max, err := intQuery(c, "maxResults", 1, 250, 250)
	if err != nil {
		return nil, err
	}
	ts, next, err := s.cfg.Provisioning.ListTemplates(max, c.query("nextToken"))
	if err != nil {
		return nil, serviceError(err)
	}
	out := listProvisioningTemplatesResponse{Templates: []provisioningTemplateSummary{}, NextToken: next}
	for _, t := range ts {
		out.Templates = append(out.Templates, provisioningTemplateSummary{
			TemplateArn: t.ARN, TemplateName: t.Name, Description: t.Description,
			CreationDate: epochSeconds(t.CreationDate), LastModifiedDate: epochSeconds(t.LastModifiedDate),
			Enabled: t.Enabled, Type: string(t.Type),
		})
	}
	return out, nil
}

type createProvisioningTemplateVersionRequest struct {
	TemplateBody *string `json:"templateBody"`
}

type createProvisioningTemplateVersionResponse struct {
	TemplateArn      string `json:"templateArn"`
	TemplateName     string `json:"templateName"`
	VersionID        int    `json:"versionId"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
}

func (s *server) createProvisioningTemplateVersion(c *call) (any, error) {
	var in createProvisioningTemplateVersionRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.TemplateBody == nil {
		return nil, invalidRequest("templateBody: required")
	}
	def, err := boolQuery(c, "setAsDefault")
	if err != nil {
		return nil, err
	}
	v, t, err := s.cfg.Provisioning.CreateVersion(c.vars["templateName"], *in.TemplateBody, def)
	if err != nil {
		return nil, serviceError(err)
	}
	return createProvisioningTemplateVersionResponse{TemplateArn: t.ARN, TemplateName: t.Name, VersionID: v.ID, IsDefaultVersion: v.IsDefault}, nil
}

func versionIDOf(c *call) (int, error) {
	raw := c.vars["versionId"]
	id, err := strconv.Atoi(raw)
	if err != nil {
		return 0, invalidRequest("versionId: must be an integer, got %q", raw)
	}
	return id, nil
}

type describeProvisioningTemplateVersionResponse struct {
	VersionID        int          `json:"versionId"`
	CreationDate     epochSeconds `json:"creationDate"`
	TemplateBody     string       `json:"templateBody"`
	IsDefaultVersion bool         `json:"isDefaultVersion"`
}

func (s *server) describeProvisioningTemplateVersion(c *call) (any, error) {
	id, err := versionIDOf(c)
	if err != nil {
		return nil, err
	}
	v, err := s.cfg.Provisioning.DescribeVersion(c.vars["templateName"], id)
	if err != nil {
		return nil, serviceError(err)
	}
	return describeProvisioningTemplateVersionResponse{VersionID: v.ID, CreationDate: epochSeconds(v.CreationDate), TemplateBody: v.Body, IsDefaultVersion: v.IsDefault}, nil
}

type provisioningTemplateVersionSummary struct {
	VersionID        int          `json:"versionId"`
	CreationDate     epochSeconds `json:"creationDate"`
	IsDefaultVersion bool         `json:"isDefaultVersion"`
}

type listProvisioningTemplateVersionsResponse struct {
	Versions  []provisioningTemplateVersionSummary `json:"versions"`
	NextToken string                               `json:"nextToken,omitempty"`
}

func (s *server) listProvisioningTemplateVersions(c *call) (any, error) {
	max, err := intQuery(c, "maxResults", 1, 250, 250)
	if err != nil {
		return nil, err
	}
	vs, next, err := s.cfg.Provisioning.ListVersions(c.vars["templateName"], max, c.query("nextToken"))
	if err != nil {
		return nil, serviceError(err)
	}
	out := listProvisioningTemplateVersionsResponse{Versions: []provisioningTemplateVersionSummary{}, NextToken: next}
	for _, v := range vs {
		out.Versions = append(out.Versions, provisioningTemplateVersionSummary{VersionID: v.ID, CreationDate: epochSeconds(v.CreationDate), IsDefaultVersion: v.IsDefault})
	}
	return out, nil
}

func (s *server) deleteProvisioningTemplateVersion(c *call) (any, error) {
	id, err := versionIDOf(c)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Provisioning.DeleteVersion(c.vars["templateName"], id); err != nil {
		return nil, serviceError(err)
	}
	return struct{}{}, nil
}

type createProvisioningClaimResponse struct {
	CertificateID  string       `json:"certificateId"`
	CertificatePem string       `json:"certificatePem"`
	KeyPair        keyPair      `json:"keyPair"`
	Expiration     epochSeconds `json:"expiration"`
}

// createProvisioningClaim is CreateProvisioningClaim: a claim certificate for the template,
// valid five minutes, not registered (it is known only to fleet provisioning).
func (s *server) createProvisioningClaim(c *call) (any, error) {
	cl, err := s.cfg.Provisioning.CreateClaim(c.vars["templateName"])
	if err != nil {
		if pe := serviceError(err); pe != err {
			return nil, pe
		}
		return nil, fmt.Errorf("create provisioning claim: %w", err)
	}
	return createProvisioningClaimResponse{
		CertificateID: cl.CertificateID, CertificatePem: cl.CertificatePEM,
		KeyPair:    keyPair{PublicKey: cl.PublicKey, PrivateKey: cl.PrivateKey},
		Expiration: epochSeconds(cl.Expiration),
	}, nil
}

// checkRegistrationConfig refuses a CA's JITP registration config that could never provision:
// a template name that is not a JITP template, or an inline body that does not parse or names
// no policy (AWS's message for the latter).
func (s *server) checkRegistrationConfig(rc registry.RegistrationConfig) error {
	if s.cfg.Provisioning == nil {
		return nil
	}
	if rc.TemplateName != "" {
		t, err := s.cfg.Provisioning.DescribeTemplate(rc.TemplateName)
		if err != nil {
			return invalidRequest("registrationConfig.templateName: %v", err)
		}
		if t.Type != provisioning.JITP {
			return invalidRequest("registrationConfig.templateName: %s is a %s template; JITP needs a template of type JITP", t.Name, t.Type)
		}
	}
	if rc.TemplateBody != "" {
		body, err := provisioning.ParseBody(rc.TemplateBody, provisioning.JITP)
		if err != nil {
			return invalidRequest("registrationConfig.templateBody: %v", err)
		}
		policy := false
		for _, r := range body.Resources {
			policy = policy || r.Type == provisioning.TypePolicy
		}
		if !policy {
			return invalidRequest("Invalid registration template. Neither policyName nor policyDocument is present in the Template.")
		}
	}
	return nil
}

type registerThingRequest struct {
	TemplateBody *string           `json:"templateBody"`
	Parameters   map[string]string `json:"parameters"`
}

type registerThingResponse struct {
	CertificatePem string            `json:"certificatePem,omitempty"`
	ResourceArns   map[string]string `json:"resourceArns"`
}

// registerThing is the control plane's RegisterThing: POST /things with a template body and its
// parameters, applied at once (single-thing provisioning).
func (s *server) registerThing(c *call) (any, error) {
	var in registerThingRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.TemplateBody == nil || *in.TemplateBody == "" {
		return nil, invalidRequest("templateBody: required")
	}
	out, err := s.cfg.Provisioning.RegisterThingFromTemplate(*in.TemplateBody, in.Parameters)
	if err != nil {
		return nil, serviceError(err)
	}
	return registerThingResponse{CertificatePem: out.CertificatePEM, ResourceArns: out.ResourceARNs}, nil
}

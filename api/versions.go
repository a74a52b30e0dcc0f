package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// createPolicyVersionRequest is CreatePolicyVersion's JSON body.
type createPolicyVersionRequest struct {
	PolicyDocument *string `json:"policyDocument"`
}

// createPolicyVersionResponse is CreatePolicyVersion's output.
type createPolicyVersionResponse struct {
	PolicyArn        string `json:"policyArn"`
	PolicyDocument   string `json:"policyDocument"`
	PolicyVersionID  string `json:"policyVersionId"`
	IsDefaultVersion bool   `json:"isDefaultVersion"`
}

// createPolicyVersion is CreatePolicyVersion: POST /policies/{policyName}/version?setAsDefault
// {"policyDocument": ...}. The SDKs send setAsDefault only when it is true.
func (s *server) createPolicyVersion(c *call) (any, error) {
	var in createPolicyVersionRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.PolicyDocument == nil {
		return nil, invalidRequest("policyDocument: required")
	}
	setAsDefault, err := boolQuery(c, "setAsDefault")
	if err != nil {
		return nil, err
	}
	name := c.vars["policyName"]
	v, err := s.reg.CreatePolicyVersion(name, *in.PolicyDocument, setAsDefault)
	if err != nil {
		return nil, fmt.Errorf("create a version of policy %q: %w", name, err)
	}
	s.warnPolicy(name, v.Document)
	return createPolicyVersionResponse{
		PolicyArn:        v.PolicyARN,
		PolicyDocument:   v.Document,
		PolicyVersionID:  v.VersionID,
		IsDefaultVersion: v.IsDefault,
	}, nil
}

// getPolicyVersionResponse is GetPolicyVersion's output.
type getPolicyVersionResponse struct {
	PolicyArn        string       `json:"policyArn"`
	PolicyName       string       `json:"policyName"`
	PolicyDocument   string       `json:"policyDocument"`
	PolicyVersionID  string       `json:"policyVersionId"`
	IsDefaultVersion bool         `json:"isDefaultVersion"`
	CreationDate     epochSeconds `json:"creationDate,omitzero"`
	LastModifiedDate epochSeconds `json:"lastModifiedDate,omitzero"`
	GenerationID     string       `json:"generationId,omitempty"`
}

// getPolicyVersion is GetPolicyVersion: GET /policies/{policyName}/version/{policyVersionId}.
func (s *server) getPolicyVersion(c *call) (any, error) {
	name, id := c.vars["policyName"], c.vars["policyVersionId"]
	v, err := s.reg.GetPolicyVersion(name, id)
	if err != nil {
		return nil, fmt.Errorf("get version %s of policy %q: %w", id, name, err)
	}
	return getPolicyVersionResponse{
		PolicyArn:        v.PolicyARN,
		PolicyName:       v.PolicyName,
		PolicyDocument:   v.Document,
		PolicyVersionID:  v.VersionID,
		IsDefaultVersion: v.IsDefault,
		CreationDate:     epochSeconds(v.CreationDate),
		LastModifiedDate: epochSeconds(v.LastModifiedDate),
		GenerationID:     v.GenerationID,
	}, nil
}

// policyVersionSummary is one entry of ListPolicyVersions.
type policyVersionSummary struct {
	VersionID        string       `json:"versionId"`
	IsDefaultVersion bool         `json:"isDefaultVersion"`
	CreateDate       epochSeconds `json:"createDate,omitzero"`
}

// listPolicyVersionsResponse is ListPolicyVersions' output.
type listPolicyVersionsResponse struct {
	PolicyVersions []policyVersionSummary `json:"policyVersions"`
}

// listPolicyVersions is ListPolicyVersions: GET /policies/{policyName}/version, newest first.
func (s *server) listPolicyVersions(c *call) (any, error) {
	name := c.vars["policyName"]
	vs, err := s.reg.ListPolicyVersions(name)
	if err != nil {
		return nil, fmt.Errorf("list versions of policy %q: %w", name, err)
	}
	return listPolicyVersionsResponse{PolicyVersions: summarizeVersions(vs)}, nil
}

// summarizeVersions builds the policyVersions list; an empty one encodes as [].
func summarizeVersions(vs []registry.PolicyVersion) []policyVersionSummary {
	out := make([]policyVersionSummary, 0, len(vs))
	for _, v := range vs {
		out = append(out, policyVersionSummary{VersionID: v.VersionID, IsDefaultVersion: v.IsDefault, CreateDate: epochSeconds(v.CreationDate)})
	}
	return out
}

// setDefaultPolicyVersion is SetDefaultPolicyVersion:
// PATCH /policies/{policyName}/version/{policyVersionId}.
func (s *server) setDefaultPolicyVersion(c *call) (any, error) {
	name, id := c.vars["policyName"], c.vars["policyVersionId"]
	if err := s.reg.SetDefaultPolicyVersion(name, id); err != nil {
		return nil, fmt.Errorf("set version %s of policy %q as default: %w", id, name, err)
	}
	return empty{}, nil
}

// deletePolicyVersion is DeletePolicyVersion:
// DELETE /policies/{policyName}/version/{policyVersionId}.
func (s *server) deletePolicyVersion(c *call) (any, error) {
	name, id := c.vars["policyName"], c.vars["policyVersionId"]
	if err := s.reg.DeletePolicyVersion(name, id); err != nil {
		return nil, fmt.Errorf("delete version %s of policy %q: %w", id, name, err)
	}
	return empty{}, nil
}

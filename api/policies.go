package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// defaultPageSize is the page size of the marker-paged lists when the client sends none
// (ListCertificates documents 25; the others document no default and get the same).
const defaultPageSize = 25

// createPolicyRequest is CreatePolicy's JSON body.
type createPolicyRequest struct {
	PolicyDocument *string `json:"policyDocument"`
	Tags           []tag   `json:"tags"`
}

// createPolicyResponse is CreatePolicy's output.
type createPolicyResponse struct {
	PolicyName      string `json:"policyName"`
	PolicyArn       string `json:"policyArn"`
	PolicyDocument  string `json:"policyDocument"`
	PolicyVersionID string `json:"policyVersionId"`
}

// createPolicy is CreatePolicy: POST /policies/{policyName}.
func (s *server) createPolicy(c *call) (any, error) {
	var in createPolicyRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.PolicyDocument == nil {
		return nil, invalidRequest("policyDocument: required")
	}
	name := c.vars["policyName"]
	p, err := s.reg.CreatePolicyWithTags(name, *in.PolicyDocument, registryTags(in.Tags))
	if err != nil {
		return nil, fmt.Errorf("create policy %q: %w", name, err)
	}
	s.warnPolicy(name, p.Document)
	return createPolicyResponse{
		PolicyName:      p.Name,
		PolicyArn:       p.ARN,
		PolicyDocument:  p.Document,
		PolicyVersionID: p.DefaultVersionID,
	}, nil
}

// getPolicyResponse is GetPolicy's output.
type getPolicyResponse struct {
	PolicyName       string       `json:"policyName"`
	PolicyArn        string       `json:"policyArn"`
	PolicyDocument   string       `json:"policyDocument"`
	DefaultVersionID string       `json:"defaultVersionId"`
	GenerationID     string       `json:"generationId,omitempty"`
	CreationDate     epochSeconds `json:"creationDate,omitzero"`
	LastModifiedDate epochSeconds `json:"lastModifiedDate,omitzero"`
}

// getPolicy is GetPolicy: GET /policies/{policyName}.
func (s *server) getPolicy(c *call) (any, error) {
	name := c.vars["policyName"]
	p, err := s.reg.GetPolicy(name)
	if err != nil {
		return nil, fmt.Errorf("get policy %q: %w", name, err)
	}
	return getPolicyResponse{
		PolicyName:       p.Name,
		PolicyArn:        p.ARN,
		PolicyDocument:   p.Document,
		DefaultVersionID: p.DefaultVersionID,
		GenerationID:     p.GenerationID,
		CreationDate:     epochSeconds(p.CreationDate),
		LastModifiedDate: epochSeconds(p.LastModifiedDate),
	}, nil
}

// policySummary is one policy of ListPolicies and ListAttachedPolicies.
type policySummary struct {
	PolicyName string `json:"policyName"`
	PolicyArn  string `json:"policyArn"`
}

// policyList is the output of ListPolicies and ListAttachedPolicies; nextMarker is absent on
// the last page.
type policyList struct {
	Policies   []policySummary `json:"policies"`
	NextMarker string          `json:"nextMarker,omitempty"`
}

// summarizePolicies builds the policies list of a policyList.
func summarizePolicies(ps []registry.Policy) []policySummary {
	out := make([]policySummary, 0, len(ps))
	for _, p := range ps {
		out = append(out, policySummary{PolicyName: p.Name, PolicyArn: p.ARN})
	}
	return out
}

// listPolicies is ListPolicies: GET /policies?marker&pageSize&isAscendingOrder.
func (s *server) listPolicies(c *call) (any, error) {
	pageSize, asc, err := markerPaging(c)
	if err != nil {
		return nil, err
	}
	ps, next, err := s.reg.ListPolicies(c.query("marker"), pageSize, asc)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	return policyList{Policies: summarizePolicies(ps), NextMarker: next}, nil
}

// deletePolicy is DeletePolicy: DELETE /policies/{policyName}.
func (s *server) deletePolicy(c *call) (any, error) {
	name := c.vars["policyName"]
	if err := s.reg.DeletePolicy(name); err != nil {
		return nil, fmt.Errorf("delete policy %q: %w", name, err)
	}
	return empty{}, nil
}

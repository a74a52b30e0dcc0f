package api

import (
	"encoding/base64"
	"fmt"
	"sort"

	"github.com/iotcore-local/iotcore-local/registry"
)

// targetRequest is the JSON body of AttachPolicy and DetachPolicy.
type targetRequest struct {
	Target *string `json:"target"`
}

// policyTarget decodes the body of AttachPolicy/DetachPolicy and returns its target.
func policyTarget(c *call) (string, error) {
	var in targetRequest
	if err := decodeBody(c.r, &in); err != nil {
		return "", err
	}
	if in.Target == nil || *in.Target == "" {
		return "", invalidRequest("target: required")
	}
	return *in.Target, nil
}

// attachPolicy is AttachPolicy: PUT /target-policies/{policyName} {"target": ARN}.
func (s *server) attachPolicy(c *call) (any, error) {
	target, err := policyTarget(c)
	if err != nil {
		return nil, err
	}
	name := c.vars["policyName"]
	if err := s.reg.AttachPolicy(name, target); err != nil {
		return nil, fmt.Errorf("attach policy %q to %s: %w", name, target, err)
	}
	return empty{}, nil
}

// detachPolicy is DetachPolicy: POST /target-policies/{policyName} {"target": ARN}.
func (s *server) detachPolicy(c *call) (any, error) {
	target, err := policyTarget(c)
	if err != nil {
		return nil, err
	}
	name := c.vars["policyName"]
	if err := s.reg.DetachPolicy(name, target); err != nil {
		return nil, fmt.Errorf("detach policy %q from %s: %w", name, target, err)
	}
	return empty{}, nil
}

// listAttachedPolicies is ListAttachedPolicies: POST /attached-policies/{target}?marker&pageSize.
// The target is an ARN, %-encoded in one path segment. The registry returns the whole list (a
// certificate has few policies), so paging happens here: the marker is the base64 of the first
// policy name of the next page, which keeps to the model's marker pattern and stays right when
// policies are attached or detached between pages. For a thing group target, recursive adds
// the policies of its ancestor groups.
func (s *server) listAttachedPolicies(c *call) (any, error) {
	target := c.vars["target"]
	pageSize, err := intQuery(c, "pageSize", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	recursive, err := boolQuery(c, "recursive")
	if err != nil {
		return nil, err
	}
	from := ""
	if m := c.query("marker"); m != "" {
		b, err := base64.StdEncoding.DecodeString(m)
		if err != nil || len(b) == 0 {
			return nil, invalidRequest("marker: not a marker this API returned: %q", m)
		}
		from = string(b)
	}
	ps, err := s.reg.ListAttachedPolicies(target, recursive)
	if err != nil {
		return nil, fmt.Errorf("list policies attached to %s: %w", target, err)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	start := sort.Search(len(ps), func(i int) bool { return ps[i].Name >= from })
	page := ps[start:]
	next := ""
	if len(page) > pageSize {
		next = base64.StdEncoding.EncodeToString([]byte(page[pageSize].Name))
		page = page[:pageSize]
	}
	return policyList{Policies: summarizePolicies(page), NextMarker: next}, nil
}

// listTargetsForPolicyResponse is ListTargetsForPolicy's output; nextMarker is absent on the
// last page.
type listTargetsForPolicyResponse struct {
	Targets    []string `json:"targets"`
	NextMarker string   `json:"nextMarker,omitempty"`
}

// listTargetsForPolicy is ListTargetsForPolicy: POST /policy-targets/{policyName}?marker&pageSize.
// The targets are the ARNs of the certificates and thing groups the policy is attached to.
func (s *server) listTargetsForPolicy(c *call) (any, error) {
	pageSize, err := intQuery(c, "pageSize", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	name := c.vars["policyName"]
	targets, next, err := s.reg.ListTargetsForPolicy(name, c.query("marker"), pageSize)
	if err != nil {
		return nil, fmt.Errorf("list targets of policy %q: %w", name, err)
	}
	return listTargetsForPolicyResponse{Targets: nonNilStrings(targets), NextMarker: next}, nil
}

// principalHeader is where AttachThingPrincipal, DetachThingPrincipal and ListPrincipalThings
// carry the principal (a certificate ARN).
const principalHeader = "x-amzn-principal"

// attachThingPrincipal is AttachThingPrincipal: PUT /things/{thingName}/principals with the
// principal in x-amzn-principal and ?thingPrincipalType (NON_EXCLUSIVE_THING by default).
func (s *server) attachThingPrincipal(c *call) (any, error) {
	principal, err := requiredHeader(c, principalHeader)
	if err != nil {
		return nil, err
	}
	typ := registry.NonExclusiveThing
	if v := c.query("thingPrincipalType"); v != "" {
		typ = registry.ThingPrincipalType(v) // the registry refuses unknown types
	}
	name := c.vars["thingName"]
	if err := s.reg.AttachThingPrincipal(name, principal, typ); err != nil {
		return nil, fmt.Errorf("attach %s to thing %q: %w", principal, name, err)
	}
	return empty{}, nil
}

// detachThingPrincipal is DetachThingPrincipal: DELETE /things/{thingName}/principals.
func (s *server) detachThingPrincipal(c *call) (any, error) {
	principal, err := requiredHeader(c, principalHeader)
	if err != nil {
		return nil, err
	}
	name := c.vars["thingName"]
	if err := s.reg.DetachThingPrincipal(name, principal); err != nil {
		return nil, fmt.Errorf("detach %s from thing %q: %w", principal, name, err)
	}
	return empty{}, nil
}

// listThingPrincipalsResponse is ListThingPrincipals' output.
type listThingPrincipalsResponse struct {
	Principals []string `json:"principals"`
	NextToken  string   `json:"nextToken,omitempty"`
}

// listThingPrincipals is ListThingPrincipals: GET /things/{thingName}/principals?nextToken&maxResults.
func (s *server) listThingPrincipals(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	name := c.vars["thingName"]
	ps, next, err := s.reg.ListThingPrincipals(name, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list principals of thing %q: %w", name, err)
	}
	return listThingPrincipalsResponse{Principals: nonNilStrings(ps), NextToken: next}, nil
}

// listPrincipalThingsResponse is ListPrincipalThings' output.
type listPrincipalThingsResponse struct {
	Things    []string `json:"things"`
	NextToken string   `json:"nextToken,omitempty"`
}

// listPrincipalThings is ListPrincipalThings: GET /principals/things with x-amzn-principal.
func (s *server) listPrincipalThings(c *call) (any, error) {
	principal, err := requiredHeader(c, principalHeader)
	if err != nil {
		return nil, err
	}
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	things, next, err := s.reg.ListPrincipalThings(principal, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list things of %s: %w", principal, err)
	}
	return listPrincipalThingsResponse{Things: nonNilStrings(things), NextToken: next}, nil
}

// nonNilStrings makes an empty list encode as [] rather than null.
func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

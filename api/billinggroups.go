package api

import "fmt"

// billingGroupProperties is BillingGroupProperties.
type billingGroupProperties struct {
	BillingGroupDescription *string `json:"billingGroupDescription,omitempty"`
}

type createBillingGroupRequest struct {
	BillingGroupProperties *billingGroupProperties `json:"billingGroupProperties"`
	Tags                   []tag                   `json:"tags"`
}

type billingGroupRef struct {
	BillingGroupName string `json:"billingGroupName"`
	BillingGroupArn  string `json:"billingGroupArn"`
	BillingGroupID   string `json:"billingGroupId"`
}

// createBillingGroup is CreateBillingGroup: POST /billing-groups/{billingGroupName}.
func (s *server) createBillingGroup(c *call) (any, error) {
	var in createBillingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	desc := ""
	if p := in.BillingGroupProperties; p != nil && p.BillingGroupDescription != nil {
		desc = *p.BillingGroupDescription
	}
	name := c.vars["billingGroupName"]
	g, err := s.reg.CreateBillingGroup(name, desc, registryTags(in.Tags))
	if err != nil {
		return nil, fmt.Errorf("create billing group %q: %w", name, err)
	}
	return billingGroupRef{BillingGroupName: g.Name, BillingGroupArn: g.ARN, BillingGroupID: g.ID}, nil
}

type billingGroupMetadata struct {
	CreationDate epochSeconds `json:"creationDate,omitzero"`
}

type describeBillingGroupResponse struct {
	BillingGroupName       string                 `json:"billingGroupName"`
	BillingGroupID         string                 `json:"billingGroupId"`
	BillingGroupArn        string                 `json:"billingGroupArn"`
	Version                int64                  `json:"version"`
	BillingGroupProperties billingGroupProperties `json:"billingGroupProperties"`
	BillingGroupMetadata   billingGroupMetadata   `json:"billingGroupMetadata"`
}

// describeBillingGroup is DescribeBillingGroup: GET /billing-groups/{billingGroupName}. A group
// without a description has empty properties, as on AWS.
func (s *server) describeBillingGroup(c *call) (any, error) {
	name := c.vars["billingGroupName"]
	g, err := s.reg.DescribeBillingGroup(name)
	if err != nil {
		return nil, fmt.Errorf("describe billing group %q: %w", name, err)
	}
	out := describeBillingGroupResponse{BillingGroupName: g.Name, BillingGroupID: g.ID, BillingGroupArn: g.ARN,
		Version: g.Version, BillingGroupMetadata: billingGroupMetadata{CreationDate: epochSeconds(g.CreationDate)}}
	if g.Description != "" {
		out.BillingGroupProperties.BillingGroupDescription = &g.Description
	}
	return out, nil
}

type updateBillingGroupRequest struct {
	BillingGroupProperties *billingGroupProperties `json:"billingGroupProperties"`
	ExpectedVersion        *int64                  `json:"expectedVersion"`
}

type versionResponse struct {
	Version int64 `json:"version"`
}

// updateBillingGroup is UpdateBillingGroup: PATCH /billing-groups/{billingGroupName}.
func (s *server) updateBillingGroup(c *call) (any, error) {
	var in updateBillingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.BillingGroupProperties == nil {
		return nil, invalidRequest("billingGroupProperties: required")
	}
	desc := ""
	if in.BillingGroupProperties.BillingGroupDescription != nil {
		desc = *in.BillingGroupProperties.BillingGroupDescription
	}
	name := c.vars["billingGroupName"]
	v, err := s.reg.UpdateBillingGroup(name, desc, in.ExpectedVersion)
	if err != nil {
		return nil, fmt.Errorf("update billing group %q: %w", name, err)
	}
	return versionResponse{Version: v}, nil
}

// deleteBillingGroup is DeleteBillingGroup: DELETE /billing-groups/{billingGroupName}?expectedVersion.
func (s *server) deleteBillingGroup(c *call) (any, error) {
	ev, err := versionQuery(c)
	if err != nil {
		return nil, err
	}
	name := c.vars["billingGroupName"]
	if err := s.reg.DeleteBillingGroup(name, ev); err != nil {
		return nil, fmt.Errorf("delete billing group %q: %w", name, err)
	}
	return empty{}, nil
}

type listBillingGroupsResponse struct {
	BillingGroups []groupNameAndArn `json:"billingGroups"`
	NextToken     string            `json:"nextToken,omitempty"`
}

// listBillingGroups is ListBillingGroups: GET /billing-groups?nextToken&maxResults&namePrefixFilter.
func (s *server) listBillingGroups(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	gs, next, err := s.reg.ListBillingGroups(c.query("namePrefixFilter"), c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list billing groups: %w", err)
	}
	out := listBillingGroupsResponse{BillingGroups: make([]groupNameAndArn, 0, len(gs)), NextToken: next}
	for _, g := range gs {
		out.BillingGroups = append(out.BillingGroups, groupNameAndArn{GroupName: g.Name, GroupArn: g.ARN})
	}
	return out, nil
}

// billingMembershipRequest is the body of AddThingToBillingGroup and RemoveThingFromBillingGroup.
type billingMembershipRequest struct {
	BillingGroupName string `json:"billingGroupName"`
	BillingGroupArn  string `json:"billingGroupArn"`
	ThingName        string `json:"thingName"`
	ThingArn         string `json:"thingArn"`
}

// addThingToBillingGroup is AddThingToBillingGroup: PUT /billing-groups/addThingToBillingGroup.
func (s *server) addThingToBillingGroup(c *call) (any, error) {
	var in billingMembershipRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if err := s.reg.AddThingToBillingGroup(in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn); err != nil {
		return nil, fmt.Errorf("add thing to billing group: %w", err)
	}
	return empty{}, nil
}

// removeThingFromBillingGroup is RemoveThingFromBillingGroup:
// PUT /billing-groups/removeThingFromBillingGroup.
func (s *server) removeThingFromBillingGroup(c *call) (any, error) {
	var in billingMembershipRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if err := s.reg.RemoveThingFromBillingGroup(in.BillingGroupName, in.BillingGroupArn, in.ThingName, in.ThingArn); err != nil {
		return nil, fmt.Errorf("remove thing from billing group: %w", err)
	}
	return empty{}, nil
}

type listThingsInBillingGroupResponse struct {
	Things    []string `json:"things"`
	NextToken string   `json:"nextToken,omitempty"`
}

// listThingsInBillingGroup is ListThingsInBillingGroup: GET /billing-groups/{billingGroupName}/things.
func (s *server) listThingsInBillingGroup(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	name := c.vars["billingGroupName"]
	things, next, err := s.reg.ListThingsInBillingGroup(name, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list things in billing group %q: %w", name, err)
	}
	return listThingsInBillingGroupResponse{Things: nonNilStrings(things), NextToken: next}, nil
}

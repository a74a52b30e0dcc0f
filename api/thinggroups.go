package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// thingGroupProperties is ThingGroupProperties, in requests and in DescribeThingGroup.
type thingGroupProperties struct {
	ThingGroupDescription *string           `json:"thingGroupDescription,omitempty"`
	AttributePayload      *attributePayload `json:"attributePayload,omitempty"`
}

// createThingGroupRequest is CreateThingGroup's JSON body.
type createThingGroupRequest struct {
	ParentGroupName      string                `json:"parentGroupName"`
	ThingGroupProperties *thingGroupProperties `json:"thingGroupProperties"`
	Tags                 []tag                 `json:"tags"`
}

// thingGroupRef is CreateThingGroup's output.
type thingGroupRef struct {
	ThingGroupName string `json:"thingGroupName"`
	ThingGroupArn  string `json:"thingGroupArn"`
	ThingGroupID   string `json:"thingGroupId"`
}

// createThingGroup is CreateThingGroup: POST /thing-groups/{thingGroupName}. Idempotent for the
// same parent and properties; ResourceAlreadyExistsException for others.
func (s *server) createThingGroup(c *call) (any, error) {
	var in createThingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	ci := registry.CreateThingGroupInput{Name: c.vars["thingGroupName"], ParentName: in.ParentGroupName, Tags: registryTags(in.Tags)}
	if p := in.ThingGroupProperties; p != nil {
		if p.ThingGroupDescription != nil {
			ci.Description = *p.ThingGroupDescription
		}
		if p.AttributePayload != nil {
			ci.Attributes = p.AttributePayload.Attributes
		}
	}
	g, err := s.reg.CreateThingGroup(ci)
	if err != nil {
		return nil, fmt.Errorf("create thing group %q: %w", ci.Name, err)
	}
	return thingGroupRef{ThingGroupName: g.Name, ThingGroupArn: g.ARN, ThingGroupID: g.ID}, nil
}

// groupNameAndArn is GroupNameAndArn.
type groupNameAndArn struct {
	GroupName string `json:"groupName"`
	GroupArn  string `json:"groupArn"`
}

// thingGroupMetadata is ThingGroupMetadata.
type thingGroupMetadata struct {
	ParentGroupName         string            `json:"parentGroupName,omitempty"`
	RootToParentThingGroups []groupNameAndArn `json:"rootToParentThingGroups,omitempty"`
	CreationDate            epochSeconds      `json:"creationDate,omitzero"`
}

// describeThingGroupResponse is DescribeThingGroup's output.
type describeThingGroupResponse struct {
	ThingGroupName       string               `json:"thingGroupName"`
	ThingGroupID         string               `json:"thingGroupId"`
	ThingGroupArn        string               `json:"thingGroupArn"`
	Version              int64                `json:"version"`
	ThingGroupProperties thingGroupProperties `json:"thingGroupProperties"`
	ThingGroupMetadata   thingGroupMetadata   `json:"thingGroupMetadata"`
	// Dynamic thing groups only.
	Status       string `json:"status,omitempty"`
	IndexName    string `json:"indexName,omitempty"`
	QueryString  string `json:"queryString,omitempty"`
	QueryVersion string `json:"queryVersion,omitempty"`
}

// describeThingGroup is DescribeThingGroup: GET /thing-groups/{thingGroupName}.
func (s *server) describeThingGroup(c *call) (any, error) {
	name := c.vars["thingGroupName"]
	g, err := s.reg.DescribeThingGroup(name)
	if err != nil {
		return nil, fmt.Errorf("describe thing group %q: %w", name, err)
	}
	out := describeThingGroupResponse{
		ThingGroupName:     g.Name,
		ThingGroupID:       g.ID,
		ThingGroupArn:      g.ARN,
		Version:            g.Version,
		ThingGroupMetadata: thingGroupMetadata{ParentGroupName: g.ParentName, CreationDate: epochSeconds(g.CreationDate)},
	}
	// AWS leaves attributePayload out for a group without attributes (things keep
	// "attributes":{}); Terraform's aws_iot_thing_group reads an empty payload as a block and
	// never converges.
	if len(g.Attributes) > 0 {
		out.ThingGroupProperties.AttributePayload = &attributePayload{Attributes: g.Attributes}
	}
	if q := g.Dynamic; q != nil {
		// Members are evaluated as things change; the emulator has no backfill phase, so the
		// group is ACTIVE from the start.
		out.Status, out.IndexName, out.QueryString, out.QueryVersion = "ACTIVE", q.IndexName, q.QueryString, q.QueryVersion
	}
	if g.Description != "" {
		out.ThingGroupProperties.ThingGroupDescription = &g.Description
	}
	for _, a := range g.RootToParent {
		out.ThingGroupMetadata.RootToParentThingGroups = append(out.ThingGroupMetadata.RootToParentThingGroups,
			groupNameAndArn{GroupName: a.GroupName, GroupArn: a.GroupARN})
	}
	return out, nil
}

// listThingGroupsResponse is the output of ListThingGroups and ListThingGroupsForThing.
type listThingGroupsResponse struct {
	ThingGroups []groupNameAndArn `json:"thingGroups"`
	NextToken   string            `json:"nextToken,omitempty"`
}

// listThingGroups is ListThingGroups:
// GET /thing-groups?maxResults&nextToken&parentGroup&namePrefixFilter&recursive.
func (s *server) listThingGroups(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultListThings)
	if err != nil {
		return nil, err
	}
	var recursive *bool
	if c.query("recursive") != "" {
		b, err := boolQuery(c, "recursive")
		if err != nil {
			return nil, err
		}
		recursive = &b
	}
	groups, next, err := s.reg.ListThingGroups(registry.ListThingGroupsInput{
		ParentGroup: c.query("parentGroup"),
		NamePrefix:  c.query("namePrefixFilter"),
		Recursive:   recursive,
		NextToken:   c.query("nextToken"),
		MaxResults:  maxResults,
	})
	if err != nil {
		return nil, fmt.Errorf("list thing groups: %w", err)
	}
	out := listThingGroupsResponse{ThingGroups: make([]groupNameAndArn, 0, len(groups)), NextToken: next}
	for _, g := range groups {
		out.ThingGroups = append(out.ThingGroups, groupNameAndArn{GroupName: g.Name, GroupArn: g.ARN})
	}
	return out, nil
}

// deleteThingGroup is DeleteThingGroup: DELETE /thing-groups/{thingGroupName}?expectedVersion.
// Deleting a missing group succeeds; a group with child groups cannot be deleted.
func (s *server) deleteThingGroup(c *call) (any, error) {
	name := c.vars["thingGroupName"]
	expected, err := versionQuery(c)
	if err != nil {
		return nil, err
	}
	if err := s.reg.DeleteThingGroup(name, expected); err != nil {
		return nil, fmt.Errorf("delete thing group %q: %w", name, err)
	}
	return empty{}, nil
}

// updateThingGroupRequest is UpdateThingGroup's JSON body.
type updateThingGroupRequest struct {
	ThingGroupProperties *thingGroupProperties `json:"thingGroupProperties"`
	ExpectedVersion      *int64                `json:"expectedVersion"`
}

// updateThingGroupResponse is UpdateThingGroup's output: the group's new version.
type updateThingGroupResponse struct {
	Version int64 `json:"version"`
}

// updateThingGroup is UpdateThingGroup: PATCH /thing-groups/{thingGroupName}.
func (s *server) updateThingGroup(c *call) (any, error) {
	var in updateThingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.ThingGroupProperties == nil {
		return nil, invalidRequest("thingGroupProperties: required")
	}
	name := c.vars["thingGroupName"]
	v, err := s.reg.UpdateThingGroup(registry.UpdateThingGroupInput{
		Name:            name,
		Description:     in.ThingGroupProperties.ThingGroupDescription,
		Attributes:      in.ThingGroupProperties.AttributePayload.toRegistry(),
		ExpectedVersion: in.ExpectedVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("update thing group %q: %w", name, err)
	}
	return updateThingGroupResponse{Version: v}, nil
}

// membershipRequest is the JSON body of AddThingToThingGroup and RemoveThingFromThingGroup: the
// group and the thing, each by name or by ARN.
type membershipRequest struct {
	ThingGroupName        string `json:"thingGroupName"`
	ThingGroupArn         string `json:"thingGroupArn"`
	ThingName             string `json:"thingName"`
	ThingArn              string `json:"thingArn"`
	OverrideDynamicGroups bool   `json:"overrideDynamicGroups"` // no dynamic groups here: no effect
}

// names resolves the group and the thing of a membership request.
func (s *server) names(in membershipRequest) (group, thing string, err error) {
	group, err = s.nameOrARN(in.ThingGroupName, in.ThingGroupArn, "thinggroup", "thingGroupName", "thingGroupArn")
	if err != nil {
		return "", "", err
	}
	thing, err = s.nameOrARN(in.ThingName, in.ThingArn, "thing", "thingName", "thingArn")
	return group, thing, err
}

// nameOrARN returns a resource's name given by name or by ARN (one of the two is required; given
// both, they must agree).
func (s *server) nameOrARN(name, arn, resourceType, nameParam, arnParam string) (string, error) {
	if arn != "" {
		n, err := s.reg.NameFromARN(arn, resourceType, arnParam)
		if err != nil {
			return "", err
		}
		if name != "" && name != n {
			return "", invalidRequest("%s %q and %s %q name different resources", nameParam, name, arnParam, arn)
		}
		return n, nil
	}
	if name == "" {
		return "", invalidRequest("%s or %s: one is required", nameParam, arnParam)
	}
	return name, nil
}

// addThingToThingGroup is AddThingToThingGroup: PUT /thing-groups/addThingToThingGroup.
func (s *server) addThingToThingGroup(c *call) (any, error) {
	var in membershipRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	group, thing, err := s.names(in)
	if err != nil {
		return nil, err
	}
	if err := s.reg.AddThingToThingGroup(group, thing); err != nil {
		return nil, fmt.Errorf("add thing %q to thing group %q: %w", thing, group, err)
	}
	return empty{}, nil
}

// removeThingFromThingGroup is RemoveThingFromThingGroup: PUT /thing-groups/removeThingFromThingGroup.
func (s *server) removeThingFromThingGroup(c *call) (any, error) {
	var in membershipRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	group, thing, err := s.names(in)
	if err != nil {
		return nil, err
	}
	if err := s.reg.RemoveThingFromThingGroup(group, thing); err != nil {
		return nil, fmt.Errorf("remove thing %q from thing group %q: %w", thing, group, err)
	}
	return empty{}, nil
}

// listThingsInThingGroupResponse is ListThingsInThingGroup's output.
type listThingsInThingGroupResponse struct {
	Things    []string `json:"things"`
	NextToken string   `json:"nextToken,omitempty"`
}

// listThingsInThingGroup is ListThingsInThingGroup:
// GET /thing-groups/{thingGroupName}/things?recursive&nextToken&maxResults.
func (s *server) listThingsInThingGroup(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	recursive, err := boolQuery(c, "recursive")
	if err != nil {
		return nil, err
	}
	name := c.vars["thingGroupName"]
	things, next, err := s.reg.ListThingsInThingGroup(name, recursive, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list things in thing group %q: %w", name, err)
	}
	return listThingsInThingGroupResponse{Things: nonNilStrings(things), NextToken: next}, nil
}

// listThingGroupsForThing is ListThingGroupsForThing:
// GET /things/{thingName}/thing-groups?nextToken&maxResults.
func (s *server) listThingGroupsForThing(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	name := c.vars["thingName"]
	groups, next, err := s.reg.ListThingGroupsForThing(name, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list thing groups of thing %q: %w", name, err)
	}
	out := listThingGroupsResponse{ThingGroups: make([]groupNameAndArn, 0, len(groups)), NextToken: next}
	for _, g := range groups {
		out.ThingGroups = append(out.ThingGroups, groupNameAndArn{GroupName: g.GroupName, GroupArn: g.GroupARN})
	}
	return out, nil
}

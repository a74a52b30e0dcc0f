package api

import (
	"fmt"
	"net/http"

	"github.com/iotcore-local/iotcore-local/index"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Dynamic thing groups: the registry stores them, fleet indexing (package index) keeps their
// members.

// defaultQueryVersion is the only fleet indexing query version.
const defaultQueryVersion = "2017-09-30"

// addDynamicGroupRoutes adds the dynamic thing group operations when there is an index.
func (s *server) addDynamicGroupRoutes(rt *router) {
	if s.cfg.Index == nil {
		return
	}
	rt.add(http.MethodPost, "/dynamic-thing-groups/{thingGroupName}", "CreateDynamicThingGroup", s.createDynamicThingGroup)
	rt.add(http.MethodPatch, "/dynamic-thing-groups/{thingGroupName}", "UpdateDynamicThingGroup", s.updateDynamicThingGroup)
	rt.add(http.MethodDelete, "/dynamic-thing-groups/{thingGroupName}", "DeleteDynamicThingGroup", s.deleteDynamicThingGroup)
}

type createDynamicThingGroupRequest struct {
	ThingGroupProperties *thingGroupProperties `json:"thingGroupProperties"`
	IndexName            string                `json:"indexName"`
	QueryString          *string               `json:"queryString"`
	QueryVersion         string                `json:"queryVersion"`
	Tags                 []tag                 `json:"tags"`
}

type createDynamicThingGroupResponse struct {
	ThingGroupName string `json:"thingGroupName"`
	ThingGroupArn  string `json:"thingGroupArn"`
	ThingGroupID   string `json:"thingGroupId"`
	IndexName      string `json:"indexName"`
	QueryString    string `json:"queryString"`
	QueryVersion   string `json:"queryVersion"`
}

// createDynamicThingGroup is CreateDynamicThingGroup: POST /dynamic-thing-groups/{thingGroupName}.
func (s *server) createDynamicThingGroup(c *call) (any, error) {
	var in createDynamicThingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.QueryString == nil || *in.QueryString == "" {
		return nil, invalidRequest("queryString: required")
	}
	if err := s.cfg.Index.CheckDynamicQuery(in.IndexName, *in.QueryString); err != nil {
		return nil, indexError(err)
	}
	q := registry.DynamicQuery{IndexName: index.ThingsIndex, QueryString: *in.QueryString, QueryVersion: defaultQueryVersion}
	if in.QueryVersion != "" {
		q.QueryVersion = in.QueryVersion
	}
	ci := registry.CreateThingGroupInput{Name: c.vars["thingGroupName"], Tags: registryTags(in.Tags)}
	if p := in.ThingGroupProperties; p != nil {
		if p.ThingGroupDescription != nil {
			ci.Description = *p.ThingGroupDescription
		}
		if p.AttributePayload != nil {
			ci.Attributes = p.AttributePayload.Attributes
		}
	}
	g, err := s.reg.CreateDynamicThingGroup(ci, q)
	if err != nil {
		return nil, fmt.Errorf("create dynamic thing group %q: %w", ci.Name, err)
	}
	s.cfg.Index.Kick()
	return createDynamicThingGroupResponse{ThingGroupName: g.Name, ThingGroupArn: g.ARN, ThingGroupID: g.ID,
		IndexName: g.Dynamic.IndexName, QueryString: g.Dynamic.QueryString, QueryVersion: g.Dynamic.QueryVersion}, nil
}

type updateDynamicThingGroupRequest struct {
	ThingGroupProperties *thingGroupProperties `json:"thingGroupProperties"`
	ExpectedVersion      *int64                `json:"expectedVersion"`
	IndexName            string                `json:"indexName"`
	QueryString          string                `json:"queryString"`
	QueryVersion         string                `json:"queryVersion"`
}

// updateDynamicThingGroup is UpdateDynamicThingGroup: PATCH /dynamic-thing-groups/{thingGroupName}.
func (s *server) updateDynamicThingGroup(c *call) (any, error) {
	var in updateDynamicThingGroupRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.ThingGroupProperties == nil {
		return nil, invalidRequest("thingGroupProperties: required")
	}
	if err := s.cfg.Index.CheckDynamicQuery(in.IndexName, in.QueryString); err != nil {
		return nil, indexError(err)
	}
	name := c.vars["thingGroupName"]
	g, err := s.reg.DescribeThingGroup(name)
	if err != nil {
		return nil, fmt.Errorf("update dynamic thing group %q: %w", name, err)
	}
	if g.Dynamic == nil {
		return nil, invalidRequest("thing group %s is not a dynamic thing group", name)
	}
	ui := registry.UpdateThingGroupInput{Name: name, Description: in.ThingGroupProperties.ThingGroupDescription,
		Attributes: in.ThingGroupProperties.AttributePayload.toRegistry(), ExpectedVersion: in.ExpectedVersion,
		Query: &registry.DynamicQuery{QueryString: in.QueryString, QueryVersion: in.QueryVersion}}
	v, err := s.reg.UpdateThingGroup(ui)
	if err != nil {
		return nil, fmt.Errorf("update dynamic thing group %q: %w", name, err)
	}
	s.cfg.Index.Kick()
	return versionResponse{Version: v}, nil
}

// deleteDynamicThingGroup is DeleteDynamicThingGroup:
// DELETE /dynamic-thing-groups/{thingGroupName}?expectedVersion.
func (s *server) deleteDynamicThingGroup(c *call) (any, error) {
	ev, err := versionQuery(c)
	if err != nil {
		return nil, err
	}
	name := c.vars["thingGroupName"]
	if err := s.reg.DeleteDynamicThingGroup(name, ev); err != nil {
		return nil, fmt.Errorf("delete dynamic thing group %q: %w", name, err)
	}
	return empty{}, nil
}

package api

import (
	"fmt"
	"strconv"

	"github.com/iotcore-local/iotcore-local/registry"
)

// Paging defaults and bounds of ListThings (the registry's own default is also 50).
const (
	defaultListThings = 50
	maxListResults    = 250
)

// attributePayload is the AttributePayload of things and thing groups.
type attributePayload struct {
	Attributes map[string]string `json:"attributes"`
	Merge      bool              `json:"merge,omitempty"` // meaningful for updates only
}

// toRegistry converts an optional payload of an update.
func (p *attributePayload) toRegistry() *registry.AttributePayload {
	if p == nil {
		return nil
	}
	return &registry.AttributePayload{Attributes: p.Attributes, Merge: p.Merge}
}

// createThingRequest is CreateThing's JSON body.
type createThingRequest struct {
	ThingTypeName    string            `json:"thingTypeName"`
	BillingGroupName string            `json:"billingGroupName"`
	AttributePayload *attributePayload `json:"attributePayload"`
}

// createThingResponse is CreateThing's output.
type createThingResponse struct {
	ThingName string `json:"thingName"`
	ThingArn  string `json:"thingArn"`
	ThingID   string `json:"thingId"`
}

// createThing is CreateThing: POST /things/{thingName}. The registry makes it idempotent for an
// identical thing and a ResourceAlreadyExistsException for a different one; a thing type must
// exist and not be deprecated.
func (s *server) createThing(c *call) (any, error) {
	var in createThingRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.BillingGroupName != "" {
		// Checked first, so that a missing billing group creates no thing.
		if _, err := s.reg.DescribeBillingGroup(in.BillingGroupName); err != nil {
			return nil, fmt.Errorf("create thing %q: %w", c.vars["thingName"], err)
		}
	}
	ci := registry.CreateThingInput{Name: c.vars["thingName"], TypeName: in.ThingTypeName}
	if in.AttributePayload != nil {
		ci.Attributes = in.AttributePayload.Attributes
	}
	t, err := s.reg.CreateThing(ci)
	if err != nil {
		return nil, fmt.Errorf("create thing %q: %w", ci.Name, err)
	}
	if in.BillingGroupName != "" {
		if err := s.reg.AddThingToBillingGroup(in.BillingGroupName, "", t.Name, ""); err != nil {
			return nil, fmt.Errorf("create thing %q: add it to billing group %q: %w", ci.Name, in.BillingGroupName, err)
		}
	}
	return createThingResponse{ThingName: t.Name, ThingArn: t.ARN, ThingID: t.ID}, nil
}

// describeThingResponse is DescribeThing's output.
type describeThingResponse struct {
	DefaultClientID string            `json:"defaultClientId"`
	ThingName       string            `json:"thingName"`
	ThingID         string            `json:"thingId"`
	ThingArn        string            `json:"thingArn"`
	ThingTypeName   string            `json:"thingTypeName,omitempty"`
	Attributes      map[string]string `json:"attributes"`
	Version         int64             `json:"version"`
	// BillingGroupName is the thing's billing group, absent when it has none.
	BillingGroupName string `json:"billingGroupName,omitempty"`
}

// describeThing is DescribeThing: GET /things/{thingName}.
func (s *server) describeThing(c *call) (any, error) {
	name := c.vars["thingName"]
	t, err := s.reg.DescribeThing(name)
	if err != nil {
		return nil, fmt.Errorf("describe thing %q: %w", name, err)
	}
	return describeThingResponse{
		DefaultClientID: t.Name, // AWS's default client ID is the thing name
		ThingName:       t.Name,
		ThingID:         t.ID,
		ThingArn:        t.ARN,
		ThingTypeName:   t.TypeName,
		Attributes:      nonNilAttributes(t.Attributes),
		Version:         t.Version,
		// A failed read of the membership leaves the field out rather than failing the call.
		BillingGroupName: func() string { g, _ := s.reg.ThingBillingGroup(t.Name); return g }(),
	}, nil
}

// thingAttribute is one thing in ListThings.
type thingAttribute struct {
	ThingName     string            `json:"thingName"`
	ThingTypeName string            `json:"thingTypeName,omitempty"`
	ThingArn      string            `json:"thingArn"`
	Attributes    map[string]string `json:"attributes"`
	Version       int64             `json:"version"`
}

// listThingsResponse is ListThings' output; nextToken is absent on the last page, as in AWS.
type listThingsResponse struct {
	Things    []thingAttribute `json:"things"`
	NextToken string           `json:"nextToken,omitempty"`
}

// listThings is ListThings: GET /things?nextToken&maxResults&attributeName&attributeValue&thingTypeName&usePrefixAttributeValue.
func (s *server) listThings(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultListThings)
	if err != nil {
		return nil, err
	}
	prefix, err := boolQuery(c, "usePrefixAttributeValue")
	if err != nil {
		return nil, err
	}
	things, next, err := s.reg.ListThings(registry.ListThingsInput{
		NextToken:               c.query("nextToken"),
		MaxResults:              maxResults,
		AttributeName:           c.query("attributeName"),
		AttributeValue:          c.query("attributeValue"),
		ThingTypeName:           c.query("thingTypeName"),
		UsePrefixAttributeValue: prefix,
	})
	if err != nil {
		return nil, fmt.Errorf("list things: %w", err)
	}
	out := listThingsResponse{Things: make([]thingAttribute, 0, len(things)), NextToken: next}
	for _, t := range things {
		out.Things = append(out.Things, thingAttribute{
			ThingName:     t.Name,
			ThingTypeName: t.TypeName,
			ThingArn:      t.ARN,
			Attributes:    nonNilAttributes(t.Attributes),
			Version:       t.Version,
		})
	}
	return out, nil
}

// updateThingRequest is UpdateThing's JSON body.
type updateThingRequest struct {
	ThingTypeName    string            `json:"thingTypeName"`
	AttributePayload *attributePayload `json:"attributePayload"`
	ExpectedVersion  *int64            `json:"expectedVersion"`
	RemoveThingType  bool              `json:"removeThingType"`
}

// updateThing is UpdateThing: PATCH /things/{thingName}. merge=false replaces all attributes,
// an empty value removes one, and the version goes up by one (VersionConflictException when
// expectedVersion is not the current one).
func (s *server) updateThing(c *call) (any, error) {
	var in updateThingRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	name := c.vars["thingName"]
	_, err := s.reg.UpdateThing(registry.UpdateThingInput{
		Name:            name,
		TypeName:        in.ThingTypeName,
		RemoveThingType: in.RemoveThingType,
		Attributes:      in.AttributePayload.toRegistry(),
		ExpectedVersion: in.ExpectedVersion,
	})
	if err != nil {
		return nil, fmt.Errorf("update thing %q: %w", name, err)
	}
	return empty{}, nil
}

// deleteThing is DeleteThing: DELETE /things/{thingName}?expectedVersion. Deleting a missing
// thing succeeds, as the model documents.
func (s *server) deleteThing(c *call) (any, error) {
	name := c.vars["thingName"]
	expected, err := versionQuery(c)
	if err != nil {
		return nil, err
	}
	if err := s.reg.DeleteThing(name, expected); err != nil {
		return nil, fmt.Errorf("delete thing %q: %w", name, err)
	}
	return empty{}, nil
}

// versionQuery reads the optional expectedVersion query parameter of the deletes.
func versionQuery(c *call) (*int64, error) {
	v := c.query("expectedVersion")
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, invalidRequest("expectedVersion: must be an integer, got %q", v)
	}
	return &n, nil
}

// nonNilAttributes makes a thing without attributes answer "attributes":{} as AWS does.
func nonNilAttributes(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

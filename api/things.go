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

// createThingRequest is CreateThing's JSON body.
type createThingRequest struct {
	ThingTypeName    string `json:"thingTypeName"`
	BillingGroupName string `json:"billingGroupName"`
	AttributePayload *struct {
		Attributes map[string]string `json:"attributes"`
		Merge      bool              `json:"merge"` // meaningful for UpdateThing only
	} `json:"attributePayload"`
}

// createThingResponse is CreateThing's output.
type createThingResponse struct {
	ThingName string `json:"thingName"`
	ThingArn  string `json:"thingArn"`
	ThingID   string `json:"thingId"`
}

// createThing is CreateThing: POST /things/{thingName}. The registry makes it idempotent for an
// identical thing and a ResourceAlreadyExistsException for a different one.
func (s *server) createThing(c *call) (any, error) {
	var in createThingRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	if in.BillingGroupName != "" {
		// The emulator has no billing groups, so any name refers to a missing one.
		return nil, notFound("Billing group %s does not exist (iotcore-local has no billing groups)", in.BillingGroupName)
	}
	ci := registry.CreateThingInput{Name: c.vars["thingName"], TypeName: in.ThingTypeName}
	if in.AttributePayload != nil {
		ci.Attributes = in.AttributePayload.Attributes
	}
	t, err := s.reg.CreateThing(ci)
	if err != nil {
		return nil, fmt.Errorf("create thing %q: %w", ci.Name, err)
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

// listThings is ListThings: GET /things?nextToken&maxResults&attributeName&attributeValue&thingTypeName.
func (s *server) listThings(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultListThings)
	if err != nil {
		return nil, err
	}
	prefix, err := boolQuery(c, "usePrefixAttributeValue")
	if err != nil {
		return nil, err
	}
	if prefix {
		// The registry filters on exact values only; answering exact matches to a prefix
		// query would silently give wrong results.
		return nil, invalidRequest("usePrefixAttributeValue: not supported by iotcore-local")
	}
	things, next, err := s.reg.ListThings(registry.ListThingsInput{
		NextToken:      c.query("nextToken"),
		MaxResults:     maxResults,
		AttributeName:  c.query("attributeName"),
		AttributeValue: c.query("attributeValue"),
		ThingTypeName:  c.query("thingTypeName"),
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

// deleteThing is DeleteThing: DELETE /things/{thingName}?expectedVersion. Deleting a missing
// thing succeeds, as the model documents.
func (s *server) deleteThing(c *call) (any, error) {
	name := c.vars["thingName"]
	var expected *int64
	if v := c.query("expectedVersion"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, invalidRequest("expectedVersion: must be an integer, got %q", v)
		}
		expected = &n
	}
	if err := s.reg.DeleteThing(name, expected); err != nil {
		return nil, fmt.Errorf("delete thing %q: %w", name, err)
	}
	return empty{}, nil
}

// nonNilAttributes makes a thing without attributes answer "attributes":{} as AWS does.
func nonNilAttributes(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

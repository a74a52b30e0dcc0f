package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// thingPrincipalObject is one item of ListThingPrincipalsV2.
type thingPrincipalObject struct {
	Principal          string `json:"principal"`
	ThingPrincipalType string `json:"thingPrincipalType"`
}

type listThingPrincipalsV2Response struct {
	ThingPrincipalObjects []thingPrincipalObject `json:"thingPrincipalObjects"`
	NextToken             string                 `json:"nextToken,omitempty"`
}

// principalThingObject is one item of ListPrincipalThingsV2.
type principalThingObject struct {
	ThingName          string `json:"thingName"`
	ThingPrincipalType string `json:"thingPrincipalType"`
}

type listPrincipalThingsV2Response struct {
	PrincipalThingObjects []principalThingObject `json:"principalThingObjects"`
	NextToken             string                 `json:"nextToken,omitempty"`
}

// listThingPrincipalsV2 is ListThingPrincipalsV2:
// GET /things/{thingName}/principals-v2?nextToken&maxResults&thingPrincipalType.
func (s *server) listThingPrincipalsV2(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	name := c.vars["thingName"]
	typ := registry.ThingPrincipalType(c.query("thingPrincipalType"))
	items, next, err := s.reg.ListThingPrincipalsV2(name, typ, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list principals of thing %q: %w", name, err)
	}
	out := listThingPrincipalsV2Response{ThingPrincipalObjects: make([]thingPrincipalObject, 0, len(items)), NextToken: next}
	for _, it := range items {
		out.ThingPrincipalObjects = append(out.ThingPrincipalObjects, thingPrincipalObject{Principal: it.Name, ThingPrincipalType: string(it.Type)})
	}
	return out, nil
}

// listPrincipalThingsV2 is ListPrincipalThingsV2: GET /principals/things-v2 with the principal
// in x-amzn-principal and ?nextToken&maxResults&thingPrincipalType.
func (s *server) listPrincipalThingsV2(c *call) (any, error) {
	principal, err := requiredHeader(c, principalHeader)
	if err != nil {
		return nil, err
	}
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultPageSize)
	if err != nil {
		return nil, err
	}
	typ := registry.ThingPrincipalType(c.query("thingPrincipalType"))
	items, next, err := s.reg.ListPrincipalThingsV2(principal, typ, c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list things of %s: %w", principal, err)
	}
	out := listPrincipalThingsV2Response{PrincipalThingObjects: make([]principalThingObject, 0, len(items)), NextToken: next}
	for _, it := range items {
		out.PrincipalThingObjects = append(out.PrincipalThingObjects, principalThingObject{ThingName: it.Name, ThingPrincipalType: string(it.Type)})
	}
	return out, nil
}

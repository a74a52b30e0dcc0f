package api

import (
	"fmt"

	"github.com/iotcore-local/iotcore-local/registry"
)

// propagatingAttribute is one entry of Mqtt5Configuration.propagatingAttributes.
type propagatingAttribute struct {
	UserPropertyKey     string `json:"userPropertyKey,omitempty"`
	ThingAttribute      string `json:"thingAttribute,omitempty"`
	ConnectionAttribute string `json:"connectionAttribute,omitempty"`
}

// mqtt5Configuration is ThingTypeProperties.mqtt5Configuration.
type mqtt5Configuration struct {
	PropagatingAttributes []propagatingAttribute `json:"propagatingAttributes,omitempty"`
}

// thingTypeProperties is the ThingTypeProperties of the thing type operations, in and out.
type thingTypeProperties struct {
	ThingTypeDescription *string             `json:"thingTypeDescription,omitempty"`
	SearchableAttributes []string            `json:"searchableAttributes,omitempty"`
	Mqtt5Configuration   *mqtt5Configuration `json:"mqtt5Configuration,omitempty"`
}

// propagating converts the mqtt5Configuration of a request.
func (p thingTypeProperties) propagating() []registry.PropagatingAttribute {
	if p.Mqtt5Configuration == nil {
		return nil
	}
	out := make([]registry.PropagatingAttribute, 0, len(p.Mqtt5Configuration.PropagatingAttributes))
	for _, a := range p.Mqtt5Configuration.PropagatingAttributes {
		out = append(out, registry.PropagatingAttribute(a))
	}
	return out
}

// propertiesOf builds the ThingTypeProperties of a stored type.
func propertiesOf(t registry.ThingType) thingTypeProperties {
	p := thingTypeProperties{SearchableAttributes: t.SearchableAttributes}
	if t.Description != "" {
		p.ThingTypeDescription = &t.Description
	}
	if len(t.PropagatingAttributes) > 0 {
		p.Mqtt5Configuration = &mqtt5Configuration{}
		for _, a := range t.PropagatingAttributes {
			p.Mqtt5Configuration.PropagatingAttributes = append(p.Mqtt5Configuration.PropagatingAttributes, propagatingAttribute(a))
		}
	}
	return p
}

// thingTypeMetadata is ThingTypeMetadata.
type thingTypeMetadata struct {
	Deprecated      bool         `json:"deprecated"`
	DeprecationDate epochSeconds `json:"deprecationDate,omitzero"`
	CreationDate    epochSeconds `json:"creationDate,omitzero"`
}

// createThingTypeRequest is CreateThingType's JSON body.
type createThingTypeRequest struct {
	ThingTypeProperties *thingTypeProperties `json:"thingTypeProperties"`
	Tags                []tag                `json:"tags"`
}

// thingTypeRef is CreateThingType's output.
type thingTypeRef struct {
	ThingTypeName string `json:"thingTypeName"`
	ThingTypeArn  string `json:"thingTypeArn"`
	ThingTypeID   string `json:"thingTypeId"`
}

// createThingType is CreateThingType: POST /thing-types/{thingTypeName}. Idempotent for the same
// properties; ResourceAlreadyExistsException for others.
func (s *server) createThingType(c *call) (any, error) {
	var in createThingTypeRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	ci := registry.CreateThingTypeInput{Name: c.vars["thingTypeName"], Tags: registryTags(in.Tags)}
	if p := in.ThingTypeProperties; p != nil {
		if p.ThingTypeDescription != nil {
			ci.Description = *p.ThingTypeDescription
		}
		ci.SearchableAttributes = p.SearchableAttributes
		ci.PropagatingAttributes = p.propagating()
	}
	t, err := s.reg.CreateThingType(ci)
	if err != nil {
		return nil, fmt.Errorf("create thing type %q: %w", ci.Name, err)
	}
	return thingTypeRef{ThingTypeName: t.Name, ThingTypeArn: t.ARN, ThingTypeID: t.ID}, nil
}

// thingTypeDefinition is one thing type of ListThingTypes; DescribeThingType adds the id.
type thingTypeDefinition struct {
	ThingTypeName       string              `json:"thingTypeName"`
	ThingTypeID         string              `json:"thingTypeId,omitempty"`
	ThingTypeArn        string              `json:"thingTypeArn"`
	ThingTypeProperties thingTypeProperties `json:"thingTypeProperties"`
	ThingTypeMetadata   thingTypeMetadata   `json:"thingTypeMetadata"`
}

// definitionOf builds the description of a stored type.
func definitionOf(t registry.ThingType) thingTypeDefinition {
	return thingTypeDefinition{
		ThingTypeName:       t.Name,
		ThingTypeArn:        t.ARN,
		ThingTypeProperties: propertiesOf(t),
		ThingTypeMetadata: thingTypeMetadata{
			Deprecated:      t.Deprecated,
			DeprecationDate: epochSeconds(t.DeprecationDate),
			CreationDate:    epochSeconds(t.CreationDate),
		},
	}
}

// describeThingType is DescribeThingType: GET /thing-types/{thingTypeName}.
func (s *server) describeThingType(c *call) (any, error) {
	name := c.vars["thingTypeName"]
	t, err := s.reg.DescribeThingType(name)
	if err != nil {
		return nil, fmt.Errorf("describe thing type %q: %w", name, err)
	}
	d := definitionOf(t)
	d.ThingTypeID = t.ID
	return d, nil
}

// listThingTypesResponse is ListThingTypes' output; nextToken is absent on the last page.
type listThingTypesResponse struct {
	ThingTypes []thingTypeDefinition `json:"thingTypes"`
	NextToken  string                `json:"nextToken,omitempty"`
}

// listThingTypes is ListThingTypes: GET /thing-types?maxResults&nextToken&thingTypeName.
func (s *server) listThingTypes(c *call) (any, error) {
	maxResults, err := intQuery(c, "maxResults", 1, maxListResults, defaultListThings)
	if err != nil {
		return nil, err
	}
	types, next, err := s.reg.ListThingTypes(c.query("thingTypeName"), c.query("nextToken"), maxResults)
	if err != nil {
		return nil, fmt.Errorf("list thing types: %w", err)
	}
	out := listThingTypesResponse{ThingTypes: make([]thingTypeDefinition, 0, len(types)), NextToken: next}
	for _, t := range types {
		out.ThingTypes = append(out.ThingTypes, definitionOf(t))
	}
	return out, nil
}

// deprecateThingTypeRequest is DeprecateThingType's JSON body.
type deprecateThingTypeRequest struct {
	UndoDeprecate bool `json:"undoDeprecate"`
}

// deprecateThingType is DeprecateThingType: POST /thing-types/{thingTypeName}/deprecate.
func (s *server) deprecateThingType(c *call) (any, error) {
	var in deprecateThingTypeRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	name := c.vars["thingTypeName"]
	if err := s.reg.DeprecateThingType(name, in.UndoDeprecate); err != nil {
		return nil, fmt.Errorf("deprecate thing type %q (undo %t): %w", name, in.UndoDeprecate, err)
	}
	return empty{}, nil
}

// updateThingTypeRequest is UpdateThingType's JSON body.
type updateThingTypeRequest struct {
	ThingTypeProperties *thingTypeProperties `json:"thingTypeProperties"`
}

// updateThingType is UpdateThingType: PATCH /thing-types/{thingTypeName}. Only the
// mqtt5Configuration can change.
func (s *server) updateThingType(c *call) (any, error) {
	var in updateThingTypeRequest
	if err := decodeBody(c.r, &in); err != nil {
		return nil, err
	}
	ui := registry.UpdateThingTypeInput{Name: c.vars["thingTypeName"]}
	if p := in.ThingTypeProperties; p != nil {
		ui.Description = p.ThingTypeDescription
		ui.SearchableAttributes = p.SearchableAttributes
		ui.PropagatingAttributes = p.propagating()
	}
	if err := s.reg.UpdateThingType(ui); err != nil {
		return nil, fmt.Errorf("update thing type %q: %w", ui.Name, err)
	}
	return empty{}, nil
}

// deleteThingType is DeleteThingType: DELETE /thing-types/{thingTypeName}. The type must be
// deprecated and have no things.
func (s *server) deleteThingType(c *call) (any, error) {
	name := c.vars["thingTypeName"]
	if err := s.reg.DeleteThingType(name); err != nil {
		return nil, fmt.Errorf("delete thing type %q: %w", name, err)
	}
	return empty{}, nil
}

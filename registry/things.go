package registry

// CreateThingInput is the input of CreateThing.
type CreateThingInput struct {
	Name       string
	TypeName   string
	Attributes map[string]string
}

// CreateThing creates a thing. Creating an existing thing with the same type and attributes
// returns it unchanged; with different ones, ErrAlreadyExists.
func (r *Registry) CreateThing(in CreateThingInput) (Thing, error) { panic("not implemented") }

// DescribeThing returns a thing or ErrNotFound.
func (r *Registry) DescribeThing(name string) (Thing, error) { panic("not implemented") }

// ListThingsInput filters and pages ListThings.
type ListThingsInput struct {
	NextToken      string
	MaxResults     int // 0: 50; at most 250
	AttributeName  string
	AttributeValue string
	ThingTypeName  string
}

// ListThings lists things by name; the returned token is empty on the last page.
func (r *Registry) ListThings(in ListThingsInput) ([]Thing, string, error) {
	panic("not implemented")
}

// DeleteThing deletes a thing; deleting a missing thing succeeds. expectedVersion, when set,
// must match (ErrVersionConflict).
func (r *Registry) DeleteThing(name string, expectedVersion *int64) error {
	panic("not implemented")
}

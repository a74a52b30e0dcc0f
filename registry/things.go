package registry

import (
	"fmt"
	"maps"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// CreateThingInput is the input of CreateThing.
type CreateThingInput struct {
	Name       string
	TypeName   string
	Attributes map[string]string
}

// CreateThing creates a thing. Creating an existing thing with the same type and attributes
// returns it unchanged; with different ones, ErrAlreadyExists.
//
// Thing types are not registered by this package, so any well-formed type name is accepted.
func (r *Registry) CreateThing(in CreateThingInput) (Thing, error) {
	if err := validThingName(in.Name); err != nil {
		return Thing{}, err
	}
	if in.TypeName != "" {
		if err := validThingTypeName(in.TypeName); err != nil {
			return Thing{}, err
		}
	}
	if err := validAttributes(in.Attributes); err != nil {
		return Thing{}, err
	}
	var out Thing
	err := r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		b := tx.Bucket(bucketThings)
		var old Thing
		found, err := getJSON(b, in.Name, &old)
		if err != nil {
			return err
		}
		if found {
			if old.TypeName != in.TypeName || !maps.Equal(old.Attributes, in.Attributes) {
				return alreadyExists(old.ID, old.ARN,
					"Thing %s already exists in account with different attributes", in.Name)
			}
			out = old
			return nil
		}
		out = Thing{
			Name:     in.Name,
			ID:       uuid.NewString(),
			ARN:      r.ThingARN(in.Name),
			TypeName: in.TypeName,
			Version:  1,
		}
		if len(in.Attributes) > 0 {
			out.Attributes = maps.Clone(in.Attributes)
		}
		return putJSON(b, in.Name, out)
	})
	if err != nil {
		return Thing{}, err
	}
	return out, nil
}

// DescribeThing returns a thing or ErrNotFound.
func (r *Registry) DescribeThing(name string) (Thing, error) {
	if err := validThingName(name); err != nil {
		return Thing{}, err
	}
	var t Thing
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		t, err = getThing(tx, name)
		return err
	})
	return t, err
}

// getThing reads a thing or returns ErrNotFound.
func getThing(tx *bbolt.Tx, name string) (Thing, error) {
	var t Thing
	found, err := getJSON(tx.Bucket(bucketThings), name, &t)
	if err != nil {
		return Thing{}, err
	}
	if !found {
		return Thing{}, newError(ErrNotFound, "Thing %s does not exist", name)
	}
	return t, nil
}

// ListThingsInput filters and pages ListThings.
type ListThingsInput struct {
	NextToken      string
	MaxResults     int // 0: 50; at most 250
	AttributeName  string
	AttributeValue string
	ThingTypeName  string
}

// ListThings lists things by name; the returned token is empty on the last page.
//
// AttributeName alone selects things that have the attribute; with AttributeValue, things whose
// attribute has that value. AttributeValue without AttributeName is refused as ambiguous.
func (r *Registry) ListThings(in ListThingsInput) ([]Thing, string, error) {
	size, err := pageSize(in.MaxResults, defaultThingPage, "maxResults")
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokThings, in.NextToken, "nextToken")
	if err != nil {
		return nil, "", err
	}
	if in.AttributeValue != "" && in.AttributeName == "" {
		return nil, "", newError(ErrInvalidRequest, "attributeValue requires attributeName")
	}
	match := func(t Thing) bool {
		if in.ThingTypeName != "" && t.TypeName != in.ThingTypeName {
			return false
		}
		if in.AttributeName != "" {
			v, ok := t.Attributes[in.AttributeName]
			if !ok || (in.AttributeValue != "" && v != in.AttributeValue) {
				return false
			}
		}
		return true
	}
	var (
		things []Thing
		p      = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketThings), nil, from, true, func(k, v []byte) (bool, error) {
			var t Thing
			if err := decodeJSON(k, v, &t); err != nil {
				return false, err
			}
			if !match(t) {
				return true, nil
			}
			if !p.take(k) {
				return false, nil
			}
			things = append(things, t)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return things, p.token(tokThings), nil
}

// DeleteThing deletes a thing; deleting a missing thing succeeds. expectedVersion, when set,
// must match (ErrVersionConflict). A thing with principals attached cannot be deleted.
func (r *Registry) DeleteThing(name string, expectedVersion *int64) error {
	if err := validThingName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		var t Thing
		found, err := getJSON(tx.Bucket(bucketThings), name, &t)
		if err != nil || !found {
			return err
		}
		if expectedVersion != nil && *expectedVersion != t.Version {
			return newError(ErrVersionConflict,
				"The version for thing %s does not match the expected version (expected %d, current %d)",
				name, *expectedVersion, t.Version)
		}
		if hasPrefix(tx.Bucket(bucketThingPrincipals), pairPrefix(name)) {
			return newError(ErrInvalidRequest,
				"Cannot delete. Thing %s is still attached to one or more principals", name)
		}
		if err := tx.Bucket(bucketThings).Delete([]byte(name)); err != nil {
			return fmt.Errorf("registry: delete thing %s: %w", name, err)
		}
		return nil
	})
}

package registry

import (
	"fmt"
	"maps"
	"strings"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// Attribute quotas of things: AWS accepts at most three attributes on CreateThing, and a thing
// keeps at most three without a thing type, fifty with one.
const (
	maxCreateAttributes  = 3
	maxUntypedAttributes = 3
	maxTypedAttributes   = 50
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
// A type must be a registered thing type (ErrNotFound) that is not deprecated
// (ErrInvalidRequest). At most three attributes may be given, as in AWS; UpdateThing can add
// more to a thing with a type.
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
	if len(in.Attributes) > maxCreateAttributes {
		return Thing{}, newError(ErrInvalidRequest,
			"A thing can be created with at most %d attributes (got %d); add more with UpdateThing once it has a thing type",
			maxCreateAttributes, len(in.Attributes))
	}
	var out Thing
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
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
		if in.TypeName != "" {
			if err := usableThingType(tx, in.TypeName); err != nil {
				return err
			}
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
		if err := putJSON(b, in.Name, out); err != nil {
			return err
		}
		if out.TypeName != "" {
			if err := putKey(tx.Bucket(bucketTypeThings), pairKey(out.TypeName, out.Name), nil); err != nil {
				return err
			}
		}
		if err := r.announceThing(tx, emit, opCreated, out); err != nil {
			return err
		}
		if out.TypeName != "" {
			return r.announceTypeAssociation(tx, emit, opCreated, out, out.TypeName)
		}
		return nil
	})
	if err != nil {
		return Thing{}, err
	}
	return out, nil
}

// AttributePayload is how UpdateThing and UpdateThingGroup change attributes. With Merge, the
// given attributes are added to or replace the stored ones; without, they replace all of them.
// Either way an attribute given with the empty value is removed.
type AttributePayload struct {
	Attributes map[string]string
	Merge      bool
}

// apply returns the attributes that result from applying p to old (nil when none are left).
func (p AttributePayload) apply(old map[string]string) map[string]string {
	out := map[string]string{}
	if p.Merge {
		maps.Copy(out, old)
	}
	for k, v := range p.Attributes {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// UpdateThingInput is the input of UpdateThing.
type UpdateThingInput struct {
	Name string
	// TypeName, when not empty, associates the thing with that (registered, not deprecated)
	// thing type; RemoveThingType removes the association. Giving both is an invalid request.
	TypeName        string
	RemoveThingType bool
	// Attributes, when not nil, changes the attributes.
	Attributes *AttributePayload
	// ExpectedVersion, when set, must be the thing's current version (ErrVersionConflict).
	ExpectedVersion *int64
}

// UpdateThing changes a thing's type and attributes. Every successful update adds one to the
// thing's version. A thing without a type keeps at most three attributes, one with a type fifty.
func (r *Registry) UpdateThing(in UpdateThingInput) (Thing, error) {
	if err := validThingName(in.Name); err != nil {
		return Thing{}, err
	}
	if in.TypeName != "" {
		if in.RemoveThingType {
			return Thing{}, newError(ErrInvalidRequest, "thingTypeName and removeThingType cannot be given together")
		}
		if err := validThingTypeName(in.TypeName); err != nil {
			return Thing{}, err
		}
	}
	if in.Attributes != nil {
		if err := validAttributes(in.Attributes.Attributes); err != nil {
			return Thing{}, err
		}
	}
	var out Thing
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		old, err := getThing(tx, in.Name)
		if err != nil {
			return err
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != old.Version {
			return versionConflict(in.Name, *in.ExpectedVersion, old.Version)
		}
		t := old
		switch {
		case in.RemoveThingType:
			t.TypeName = ""
		case in.TypeName != "" && in.TypeName != old.TypeName:
			if err := usableThingType(tx, in.TypeName); err != nil {
				return err
			}
			t.TypeName = in.TypeName
		}
		if in.Attributes != nil {
			t.Attributes = in.Attributes.apply(old.Attributes)
		}
		limit := maxTypedAttributes
		if t.TypeName == "" {
			limit = maxUntypedAttributes
		}
		if len(t.Attributes) > limit {
			return newError(ErrInvalidRequest,
				"Thing %s would have %d attributes; a thing without a thing type can have %d, one with a type %d",
				in.Name, len(t.Attributes), maxUntypedAttributes, maxTypedAttributes)
		}
		t.Version++
		if err := putJSON(tx.Bucket(bucketThings), t.Name, t); err != nil {
			return err
		}
		if err := r.announceThing(tx, emit, opUpdated, t); err != nil {
			return err
		}
		if t.TypeName != old.TypeName {
			if err := r.retypeThing(tx, emit, old, t); err != nil {
				return err
			}
		}
		out = t
		return nil
	})
	if err != nil {
		return Thing{}, err
	}
	return out, nil
}

// retypeThing moves a thing from old.TypeName to t.TypeName in the type index and announces
// the associations that ended and began.
func (r *Registry) retypeThing(tx *bbolt.Tx, emit func(Event), old, t Thing) error {
	idx := tx.Bucket(bucketTypeThings)
	if old.TypeName != "" {
		if err := delKey(idx, pairKey(old.TypeName, t.Name)); err != nil {
			return err
		}
		if err := r.announceTypeAssociation(tx, emit, opDeleted, t, old.TypeName); err != nil {
			return err
		}
	}
	if t.TypeName != "" {
		if err := putKey(idx, pairKey(t.TypeName, t.Name), nil); err != nil {
			return err
		}
		return r.announceTypeAssociation(tx, emit, opCreated, t, t.TypeName)
	}
	return nil
}

// versionConflict is the ErrVersionConflict of a thing whose version is not the expected one.
func versionConflict(name string, expected, current int64) error {
	return newError(ErrVersionConflict,
		"The version for thing %s does not match the expected version (expected %d, current %d)",
		name, expected, current)
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
	// UsePrefixAttributeValue matches the things whose attribute value starts with
	// AttributeValue instead of equalling it.
	UsePrefixAttributeValue bool
}

// ListThings lists things by name; the returned token is empty on the last page.
//
// AttributeName alone selects things that have the attribute; with AttributeValue, things whose
// attribute has that value (or, with UsePrefixAttributeValue, starts with it). AttributeValue
// without AttributeName is refused as ambiguous.
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
		if in.AttributeName == "" {
			return true
		}
		v, ok := t.Attributes[in.AttributeName]
		switch {
		case !ok:
			return false
		case in.UsePrefixAttributeValue:
			return strings.HasPrefix(v, in.AttributeValue)
		default:
			return in.AttributeValue == "" || v == in.AttributeValue
		}
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
// must match (ErrVersionConflict). A thing with principals attached cannot be deleted. The
// thing leaves its thing groups in the same transaction.
func (r *Registry) DeleteThing(name string, expectedVersion *int64) error {
	if err := validThingName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		var t Thing
		found, err := getJSON(tx.Bucket(bucketThings), name, &t)
		if err != nil || !found {
			return err
		}
		if expectedVersion != nil && *expectedVersion != t.Version {
			return versionConflict(name, *expectedVersion, t.Version)
		}
		if hasPrefix(tx.Bucket(bucketThingPrincipals), pairPrefix(name)) {
			return newError(ErrInvalidRequest,
				"Cannot delete. Thing %s is still attached to one or more principals", name)
		}
		groups, err := secondParts(tx.Bucket(bucketThingGroupsOf), name)
		if err != nil {
			return err
		}
		for _, g := range groups {
			// No certificate is attached to the thing, so no connection's policies change.
			if err := r.leaveGroup(tx, emit, g, t); err != nil {
				return err
			}
		}
		if err := leaveBillingGroup(tx, name); err != nil {
			return err
		}
		if t.TypeName != "" {
			if err := delKey(tx.Bucket(bucketTypeThings), pairKey(t.TypeName, name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketThings).Delete([]byte(name)); err != nil {
			return fmt.Errorf("registry: delete thing %s: %w", name, err)
		}
		emit(Event{Kind: ThingDeleted, ThingName: name})
		if err := r.announceThing(tx, emit, opDeleted, t); err != nil {
			return err
		}
		if t.TypeName != "" {
			return r.announceTypeAssociation(tx, emit, opDeleted, t, t.TypeName)
		}
		return nil
	})
}

// secondParts lists the second parts of the pairKeys of b whose first part is a, in order.
func secondParts(b *bbolt.Bucket, a string) ([]string, error) {
	var out []string
	prefix := pairPrefix(a)
	err := walk(b, prefix, nil, true, func(k, _ []byte) (bool, error) {
		out = append(out, secondOf(k, prefix))
		return true, nil
	})
	return out, err
}

package registry

import (
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// ThingType is a registry thing type. AWS keeps types immutable apart from their deprecation
// (and, since MQTT 5 support, their mqtt5Configuration, changed with UpdateThingType).
type ThingType struct {
	Name                  string                 `json:"name"`
	ID                    string                 `json:"id"` // UUID, fixed at creation
	ARN                   string                 `json:"arn"`
	Description           string                 `json:"description,omitempty"`
	SearchableAttributes  []string               `json:"searchableAttributes,omitempty"`
	PropagatingAttributes []PropagatingAttribute `json:"propagatingAttributes,omitempty"` // mqtt5Configuration
	Deprecated            bool                   `json:"deprecated,omitempty"`
	DeprecationDate       time.Time              `json:"deprecationDate,omitzero"`
	CreationDate          time.Time              `json:"creationDate"`
}

// PropagatingAttribute is one entry of a thing type's mqtt5Configuration: a thing attribute or
// connection attribute to add to the MQTT 5 user properties of messages the thing publishes.
type PropagatingAttribute struct {
	UserPropertyKey     string `json:"userPropertyKey,omitempty"`
	ThingAttribute      string `json:"thingAttribute,omitempty"`
	ConnectionAttribute string `json:"connectionAttribute,omitempty"`
}

// Limits of thing types in the AWS IoT model and quotas.
const (
	maxSearchableAttributes = 3
	maxDescriptionLen       = 2028
)

// CreateThingTypeInput is the input of CreateThingType.
type CreateThingTypeInput struct {
	Name                  string
	Description           string
	SearchableAttributes  []string
	PropagatingAttributes []PropagatingAttribute
	Tags                  []Tag
}

// sameConfig reports whether an existing type was created with the configuration of in; tags
// are not part of it.
func (in CreateThingTypeInput) sameConfig(t ThingType) bool {
	return t.Description == in.Description &&
		slices.Equal(t.SearchableAttributes, in.SearchableAttributes) &&
		slices.Equal(t.PropagatingAttributes, in.PropagatingAttributes)
}

// CreateThingType creates a thing type. Creating an existing type with the same configuration
// returns it unchanged (AWS's idempotency); with another, ErrAlreadyExists. At most three
// searchable attributes are allowed.
func (r *Registry) CreateThingType(in CreateThingTypeInput) (ThingType, error) {
	if err := validThingTypeName(in.Name); err != nil {
		return ThingType{}, err
	}
	if len(in.SearchableAttributes) > maxSearchableAttributes {
		return ThingType{}, newError(ErrInvalidRequest, "Only three searchable attributes are allowed for a thing type.")
	}
	for _, a := range in.SearchableAttributes {
		if err := validAttributeName(a); err != nil {
			return ThingType{}, err
		}
	}
	if err := validDescription(in.Description, "thingTypeDescription"); err != nil {
		return ThingType{}, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return ThingType{}, err
	}
	var out ThingType
	err = r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		old, found, err := lookupThingType(tx, in.Name)
		if err != nil {
			return err
		}
		if found {
			if !in.sameConfig(old) {
				return alreadyExists(old.ID, old.ARN, "Thing Type %s already exists in account with different properties", in.Name)
			}
			out = old
			return nil
		}
		out = ThingType{
			Name:                  in.Name,
			ID:                    uuid.NewString(),
			ARN:                   r.ThingTypeARN(in.Name),
			Description:           in.Description,
			SearchableAttributes:  slices.Clone(in.SearchableAttributes),
			PropagatingAttributes: slices.Clone(in.PropagatingAttributes),
			CreationDate:          r.nowUTC(),
		}
		if err := putJSON(tx.Bucket(bucketThingTypes), in.Name, out); err != nil {
			return err
		}
		if err := putTags(tx, out.ARN, tags); err != nil {
			return err
		}
		return r.announceThingType(tx, emit, opCreated, out)
	})
	if err != nil {
		return ThingType{}, err
	}
	return out, nil
}

// lookupThingType reads a thing type; found is false when there is none.
func lookupThingType(tx *bbolt.Tx, name string) (ThingType, bool, error) {
	var t ThingType
	found, err := getJSON(tx.Bucket(bucketThingTypes), name, &t)
	return t, found, err
}

// getThingType reads a thing type or returns ErrNotFound.
func getThingType(tx *bbolt.Tx, name string) (ThingType, error) {
	t, found, err := lookupThingType(tx, name)
	if err != nil {
		return ThingType{}, err
	}
	if !found {
		return ThingType{}, newError(ErrNotFound, "Thing Type %s does not exist", name)
	}
	return t, nil
}

// usableThingType checks that things may be associated with the named type: it exists
// (ErrNotFound) and is not deprecated (ErrInvalidRequest).
func usableThingType(tx *bbolt.Tx, name string) error {
	t, err := getThingType(tx, name)
	if err != nil {
		return err
	}
	if t.Deprecated {
		return newError(ErrInvalidRequest, "Can not create new thing with deprecated thing type : %s", name)
	}
	return nil
}

// DescribeThingType returns a thing type or ErrNotFound.
func (r *Registry) DescribeThingType(name string) (ThingType, error) {
	if err := validThingTypeName(name); err != nil {
		return ThingType{}, err
	}
	var t ThingType
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		t, err = getThingType(tx, name)
		return err
	})
	return t, err
}

// ListThingTypes pages thing types by name; name, when given, lists only that type. maxResults
// 0 means 50; at most 250.
func (r *Registry) ListThingTypes(name, nextToken string, maxResults int) ([]ThingType, string, error) {
	size, err := pageSize(maxResults, defaultThingPage, "maxResults")
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokThingTypes, nextToken, "nextToken")
	if err != nil {
		return nil, "", err
	}
	var (
		out []ThingType
		p   = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketThingTypes), nil, from, true, func(k, v []byte) (bool, error) {
			if name != "" && string(k) != name {
				return true, nil
			}
			var t ThingType
			if err := decodeJSON(k, v, &t); err != nil {
				return false, err
			}
			if !p.take(k) {
				return false, nil
			}
			out = append(out, t)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, p.token(tokThingTypes), nil
}

// DeprecateThingType deprecates a thing type (no new thing may take it), or with undo makes it
// usable again. Deprecating a deprecated type keeps its first deprecation date.
func (r *Registry) DeprecateThingType(name string, undo bool) error {
	if err := validThingTypeName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		t, err := getThingType(tx, name)
		if err != nil {
			return err
		}
		if t.Deprecated == !undo {
			return nil
		}
		t.Deprecated = !undo
		t.DeprecationDate = time.Time{}
		if t.Deprecated {
			t.DeprecationDate = r.nowUTC()
		}
		if err := putJSON(tx.Bucket(bucketThingTypes), name, t); err != nil {
			return err
		}
		return r.announceThingType(tx, emit, opUpdated, t)
	})
}

// UpdateThingTypeInput is the input of UpdateThingType.
type UpdateThingTypeInput struct {
	Name string
	// Description and SearchableAttributes, when given (not nil), must be the type's own:
	// AWS keeps them immutable.
	Description           *string
	SearchableAttributes  []string
	PropagatingAttributes []PropagatingAttribute // the new mqtt5Configuration
}

// UpdateThingType replaces a thing type's mqtt5Configuration, the one part of a type AWS lets
// change; a different description or list of searchable attributes is an invalid request.
func (r *Registry) UpdateThingType(in UpdateThingTypeInput) error {
	if err := validThingTypeName(in.Name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		t, err := getThingType(tx, in.Name)
		if err != nil {
			return err
		}
		if in.Description != nil && *in.Description != t.Description ||
			in.SearchableAttributes != nil && !slices.Equal(in.SearchableAttributes, t.SearchableAttributes) {
			return newError(ErrInvalidRequest,
				"Thing type %s: only the mqtt5Configuration can be updated; its description and searchable attributes are immutable", in.Name)
		}
		if slices.Equal(t.PropagatingAttributes, in.PropagatingAttributes) {
			return nil
		}
		t.PropagatingAttributes = slices.Clone(in.PropagatingAttributes)
		if err := putJSON(tx.Bucket(bucketThingTypes), in.Name, t); err != nil {
			return err
		}
		return r.announceThingType(tx, emit, opUpdated, t)
	})
}

// DeleteThingType deletes a thing type. As in AWS it must be deprecated first, and no thing may
// still have it (both ErrInvalidRequest). AWS also makes you wait five minutes between the
// deprecation and the deletion; the emulator does not.
func (r *Registry) DeleteThingType(name string) error {
	if err := validThingTypeName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		t, err := getThingType(tx, name)
		if err != nil {
			return err
		}
		if !t.Deprecated {
			return newError(ErrInvalidRequest, "Thing type %s must be deprecated before it can be deleted", name)
		}
		if hasPrefix(tx.Bucket(bucketTypeThings), pairPrefix(name)) {
			return newError(ErrInvalidRequest,
				"Thing type %s cannot be deleted while things are associated with it; change their type with UpdateThing first", name)
		}
		if err := delKey(tx.Bucket(bucketThingTypes), []byte(name)); err != nil {
			return err
		}
		if err := deleteTags(tx, t.ARN); err != nil {
			return err
		}
		return r.announceThingType(tx, emit, opDeleted, t)
	})
}

// addThingTypes upgrades a schema-2 file, in which a thing's type was a free name: each type
// name a thing carries becomes a registered, non-deprecated thing type (created now, without
// properties), and the type index of things is built, so that the rules of schema 3 (a thing's
// type exists; a type with things cannot be deleted) hold for the old data.
func (r *Registry) addThingTypes(tx *bbolt.Tx) error {
	now := r.nowUTC()
	return tx.Bucket(bucketThings).ForEach(func(k, data []byte) error {
		var t Thing
		if err := decodeJSON(k, data, &t); err != nil {
			return err
		}
		if t.TypeName == "" {
			return nil
		}
		if _, found, err := lookupThingType(tx, t.TypeName); err != nil {
			return err
		} else if !found {
			tt := ThingType{Name: t.TypeName, ID: uuid.NewString(), ARN: r.ThingTypeARN(t.TypeName), CreationDate: now}
			if err := putJSON(tx.Bucket(bucketThingTypes), tt.Name, tt); err != nil {
				return fmt.Errorf("register thing type %s of thing %s: %w", t.TypeName, t.Name, err)
			}
		}
		return putKey(tx.Bucket(bucketTypeThings), pairKey(t.TypeName, t.Name), nil)
	})
}

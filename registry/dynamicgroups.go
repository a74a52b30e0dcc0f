package registry

import (
	"maps"
	"slices"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// DynamicQuery is what makes a thing group dynamic: a fleet indexing query whose matching
// things are the group's members. The registry stores it; fleet indexing (package index)
// evaluates it and sets the members with SetDynamicMembers.
type DynamicQuery struct {
	IndexName    string `json:"indexName,omitempty"`
	QueryString  string `json:"queryString,omitempty"`
	QueryVersion string `json:"queryVersion,omitempty"`
}

// with returns q with the fields set in u replacing its own.
func (q *DynamicQuery) with(u DynamicQuery) *DynamicQuery {
	out := *q
	if u.IndexName != "" {
		out.IndexName = u.IndexName
	}
	if u.QueryString != "" {
		out.QueryString = u.QueryString
	}
	if u.QueryVersion != "" {
		out.QueryVersion = u.QueryVersion
	}
	return &out
}

func errDynamicMembership(group string) error {
	return newError(ErrInvalidRequest,
		"Thing group %s is a dynamic thing group: its members are the things its query matches, they cannot be added or removed", group)
}

// CreateDynamicThingGroup creates a dynamic thing group (no parent: dynamic groups are not in
// hierarchies). Creating it again with the same properties and query returns it.
func (r *Registry) CreateDynamicThingGroup(in CreateThingGroupInput, q DynamicQuery) (ThingGroup, error) {
	if err := validThingGroupName(in.Name); err != nil {
		return ThingGroup{}, err
	}
	if in.ParentName != "" {
		return ThingGroup{}, newError(ErrInvalidRequest, "A dynamic thing group cannot have a parent group")
	}
	if err := validGroupProperties(in.Description, in.Attributes); err != nil {
		return ThingGroup{}, err
	}
	tags, err := tagMap(in.Tags)
	if err != nil {
		return ThingGroup{}, err
	}
	var out ThingGroup
	err = r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		old, found, err := lookupGroup(tx, in.Name)
		if err != nil {
			return err
		}
		if found {
			if !in.sameConfig(old) || old.Dynamic == nil || *old.Dynamic != q {
				return alreadyExists(old.ID, old.ARN, "Thing Group %s already exists in account with different properties", in.Name)
			}
			out = old
			return nil
		}
		out = ThingGroup{Name: in.Name, ID: uuid.NewString(), ARN: r.ThingGroupARN(in.Name), Description: in.Description,
			Version: 1, CreationDate: r.nowUTC(), Dynamic: &q}
		if len(in.Attributes) > 0 {
			out.Attributes = maps.Clone(in.Attributes)
		}
		if err := putJSON(tx.Bucket(bucketThingGroups), out.Name, out); err != nil {
			return err
		}
		if err := putTags(tx, out.ARN, tags); err != nil {
			return err
		}
		return r.announceThingGroup(tx, emit, opCreated, out, nil)
	})
	return out, err
}

// DeleteDynamicThingGroup deletes a dynamic thing group (a missing one succeeds); a static
// group is an ErrInvalidRequest.
func (r *Registry) DeleteDynamicThingGroup(name string, expectedVersion *int64) error {
	g, err := r.DescribeThingGroup(name)
	if isKind(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if g.Dynamic == nil {
		return newError(ErrInvalidRequest, "Thing group %s is not a dynamic thing group", name)
	}
	return r.DeleteThingGroup(name, expectedVersion)
}

// DynamicThingGroups returns every dynamic thing group, by name.
func (r *Registry) DynamicThingGroups() ([]ThingGroup, error) {
	var out []ThingGroup
	err := r.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketThingGroups).ForEach(func(k, v []byte) error {
			var g ThingGroup
			if err := decodeJSON(k, v, &g); err != nil {
				return err
			}
			if g.Dynamic != nil {
				out = append(out, g)
			}
			return nil
		})
	})
	return out, err
}

// SetDynamicMembers makes the members of a dynamic group exactly the named things (those that
// exist), announcing each membership change. A thing already in the maximum number of groups
// is left out (AWS logs such failures and goes on). It returns how many things joined and left.
func (r *Registry) SetDynamicMembers(group string, things []string) (joined, left int, err error) {
	want := map[string]bool{}
	for _, t := range things {
		want[t] = true
	}
	err = r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		g, found, err := lookupGroup(tx, group)
		if err != nil || !found || g.Dynamic == nil {
			return err // deleted meanwhile: nothing to do
		}
		current, err := secondParts(tx.Bucket(bucketGroupThings), group)
		if err != nil {
			return err
		}
		for _, name := range current {
			if want[name] {
				delete(want, name)
				continue
			}
			t, err := getThing(tx, name)
			if err != nil {
				return err
			}
			if err := r.leaveGroup(tx, emit, group, t); err != nil {
				return err
			}
			left++
		}
		names := slices.Sorted(maps.Keys(want))
		for _, name := range names {
			t, found, err := lookupThingRecord(tx, name)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			groups, err := secondParts(tx.Bucket(bucketThingGroupsOf), name)
			if err != nil {
				return err
			}
			if len(groups) >= maxGroupsPerThing {
				r.log.Warn("registry: thing not added to dynamic thing group: it is in the maximum number of groups",
					"thing", name, "group", group, "max", maxGroupsPerThing)
				continue
			}
			membership := uuid.NewString()
			if err := putKey(tx.Bucket(bucketGroupThings), pairKey(group, name), []byte(membership)); err != nil {
				return err
			}
			if err := putKey(tx.Bucket(bucketThingGroupsOf), pairKey(name, group), []byte(membership)); err != nil {
				return err
			}
			if err := r.announceMembership(tx, emit, opAdded, g, t, membership); err != nil {
				return err
			}
			joined++
		}
		return nil
	})
	return joined, left, err
}

// lookupThingRecord reads a thing; found is false when there is none.
func lookupThingRecord(tx *bbolt.Tx, name string) (Thing, bool, error) {
	var t Thing
	found, err := getJSON(tx.Bucket(bucketThings), name, &t)
	return t, found, err
}

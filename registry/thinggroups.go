package registry

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// ThingGroup is a static thing group. Its parent is fixed at creation, as in AWS.
type ThingGroup struct {
	Name         string            `json:"name"`
	ID           string            `json:"id"` // UUID, fixed at creation
	ARN          string            `json:"arn"`
	ParentName   string            `json:"parentName,omitempty"`
	Description  string            `json:"description,omitempty"`
	Attributes   map[string]string `json:"attributes,omitempty"`
	Version      int64             `json:"version"` // 1 at creation, +1 per update
	CreationDate time.Time         `json:"creationDate"`
	// Dynamic is the query of a dynamic thing group (dynamicgroups.go); nil for a static group.
	Dynamic *DynamicQuery `json:"dynamic,omitempty"`
	// RootToParent lists the group's ancestors from the root down to its parent. It is filled
	// in by DescribeThingGroup, not stored.
	RootToParent []GroupNameAndARN `json:"-"`
}

// Quotas of thing groups (AWS IoT Device Management quotas and developer guide).
const (
	maxGroupDepth       = 7  // levels of a group hierarchy, the root included
	maxGroupAttributes  = 50 // attributes of one group
	maxGroupsPerThing   = 10 // groups a thing may belong to directly
	maxPoliciesPerGroup = 2  // "You can attach a maximum number of two policies to a group."
)

// CreateThingGroupInput is the input of CreateThingGroup.
type CreateThingGroupInput struct {
	Name        string
	ParentName  string
	Description string
	Attributes  map[string]string
	Tags        []Tag
}

// sameConfig reports whether an existing group has the configuration in asks for.
func (in CreateThingGroupInput) sameConfig(g ThingGroup) bool {
	return g.ParentName == in.ParentName && g.Description == in.Description && maps.Equal(g.Attributes, in.Attributes)
}

// CreateThingGroup creates a static thing group, under ParentName when given. Creating an existing
// group with the same parent and properties returns it unchanged; with others, ErrAlreadyExists.
// A missing parent is an invalid request (CreateThingGroup has no ResourceNotFoundException in the
// model), as is a hierarchy deeper than seven levels.
func (r *Registry) CreateThingGroup(in CreateThingGroupInput) (ThingGroup, error) {
	if err := validThingGroupName(in.Name); err != nil {
		return ThingGroup{}, err
	}
	if in.ParentName != "" {
		if err := validThingGroupName(in.ParentName); err != nil {
			return ThingGroup{}, err
		}
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
			if !in.sameConfig(old) {
				return alreadyExists(old.ID, old.ARN, "Thing Group %s already exists in account with different properties", in.Name)
			}
			out = old
			return nil
		}
		var ancestors []ThingGroup
		if in.ParentName != "" {
			parent, found, err := lookupGroup(tx, in.ParentName)
			if err != nil {
				return err
			}
			if !found {
				return newError(ErrInvalidRequest, "Parent thing group %s does not exist", in.ParentName)
			}
			if parent.Dynamic != nil {
				return newError(ErrInvalidRequest, "Dynamic thing group %s cannot be a parent: dynamic thing groups are not in hierarchies", in.ParentName)
			}
			if ancestors, err = groupAncestors(tx, parent); err != nil {
				return err
			}
			ancestors = append(ancestors, parent)
			if len(ancestors)+1 > maxGroupDepth {
				return newError(ErrInvalidRequest,
					"Thing group %s would be at depth %d; a thing group hierarchy has at most %d levels", in.Name, len(ancestors)+1, maxGroupDepth)
			}
		}
		out = ThingGroup{
			Name:         in.Name,
			ID:           uuid.NewString(),
			ARN:          r.ThingGroupARN(in.Name),
			ParentName:   in.ParentName,
			Description:  in.Description,
			Version:      1,
			CreationDate: r.nowUTC(),
		}
		if len(in.Attributes) > 0 {
			out.Attributes = maps.Clone(in.Attributes)
		}
		if err := putJSON(tx.Bucket(bucketThingGroups), out.Name, out); err != nil {
			return err
		}
		if err := putTags(tx, out.ARN, tags); err != nil {
			return err
		}
		if err := r.announceThingGroup(tx, emit, opCreated, out, ancestors); err != nil {
			return err
		}
		if in.ParentName == "" {
			return nil
		}
		if err := putKey(tx.Bucket(bucketGroupChildren), pairKey(in.ParentName, out.Name), nil); err != nil {
			return err
		}
		return r.announceHierarchy(tx, emit, opAdded, ancestors[len(ancestors)-1], out)
	})
	if err != nil {
		return ThingGroup{}, err
	}
	return out, nil
}

// validGroupProperties checks a group's description and attributes.
func validGroupProperties(description string, attrs map[string]string) error {
	if err := validDescription(description, "thingGroupDescription"); err != nil {
		return err
	}
	if err := validAttributes(attrs); err != nil {
		return err
	}
	if len(attrs) > maxGroupAttributes {
		return newError(ErrInvalidRequest, "A thing group can have at most %d attributes (got %d)", maxGroupAttributes, len(attrs))
	}
	return nil
}

// lookupGroup reads a thing group; found is false when there is none.
func lookupGroup(tx *bbolt.Tx, name string) (ThingGroup, bool, error) {
	var g ThingGroup
	found, err := getJSON(tx.Bucket(bucketThingGroups), name, &g)
	return g, found, err
}

// getGroup reads a thing group or returns ErrNotFound.
func getGroup(tx *bbolt.Tx, name string) (ThingGroup, error) {
	g, found, err := lookupGroup(tx, name)
	if err != nil {
		return ThingGroup{}, err
	}
	if !found {
		return ThingGroup{}, newError(ErrNotFound, "Thing Group %s does not exist", name)
	}
	return g, nil
}

// groupAncestors returns g's ancestors, the root first and g's parent last.
func groupAncestors(tx *bbolt.Tx, g ThingGroup) ([]ThingGroup, error) {
	var chain []ThingGroup
	for name := g.ParentName; name != ""; {
		if len(chain) > maxGroupDepth {
			return nil, newError(ErrInvalidRequest, "the hierarchy above thing group %s is deeper than %d levels", g.Name, maxGroupDepth)
		}
		p, err := getGroup(tx, name)
		if err != nil {
			return nil, err
		}
		chain = append(chain, p)
		name = p.ParentName
	}
	slices.Reverse(chain)
	return chain, nil
}

// groupDescendants returns the names of every group below name, at any depth.
func groupDescendants(tx *bbolt.Tx, name string) ([]string, error) {
	var out []string
	queue := []string{name}
	for len(queue) > 0 {
		children, err := secondParts(tx.Bucket(bucketGroupChildren), queue[0])
		if err != nil {
			return nil, err
		}
		queue = append(queue[1:], children...)
		out = append(out, children...)
	}
	return out, nil
}

// rootOf is the name of the root of g's hierarchy.
func rootOf(tx *bbolt.Tx, g ThingGroup) (string, error) {
	chain, err := groupAncestors(tx, g)
	if err != nil {
		return "", err
	}
	if len(chain) == 0 {
		return g.Name, nil
	}
	return chain[0].Name, nil
}

// DescribeThingGroup returns a thing group with its ancestors, or ErrNotFound.
func (r *Registry) DescribeThingGroup(name string) (ThingGroup, error) {
	if err := validThingGroupName(name); err != nil {
		return ThingGroup{}, err
	}
	var g ThingGroup
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		if g, err = getGroup(tx, name); err != nil {
			return err
		}
		chain, err := groupAncestors(tx, g)
		for _, a := range chain {
			g.RootToParent = append(g.RootToParent, GroupNameAndARN{GroupName: a.Name, GroupARN: a.ARN})
		}
		return err
	})
	return g, err
}

// UpdateThingGroupInput is the input of UpdateThingGroup.
type UpdateThingGroupInput struct {
	Name            string
	Description     *string           // when not nil, the new description
	Attributes      *AttributePayload // when not nil, changes the attributes
	ExpectedVersion *int64            // when set, must be the group's version (ErrVersionConflict)
	Query           *DynamicQuery     // dynamic groups only: the fields set replace the query's
}

// UpdateThingGroup changes a group's description and attributes and returns its new version.
func (r *Registry) UpdateThingGroup(in UpdateThingGroupInput) (int64, error) {
	if err := validThingGroupName(in.Name); err != nil {
		return 0, err
	}
	if in.Description != nil {
		if err := validDescription(*in.Description, "thingGroupDescription"); err != nil {
			return 0, err
		}
	}
	if in.Attributes != nil {
		if err := validAttributes(in.Attributes.Attributes); err != nil {
			return 0, err
		}
	}
	var version int64
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		g, err := getGroup(tx, in.Name)
		if err != nil {
			return err
		}
		if in.ExpectedVersion != nil && *in.ExpectedVersion != g.Version {
			return newError(ErrVersionConflict,
				"The version for thing group %s does not match the expected version (expected %d, current %d)",
				in.Name, *in.ExpectedVersion, g.Version)
		}
		if in.Description != nil {
			g.Description = *in.Description
		}
		if in.Query != nil {
			if g.Dynamic == nil {
				return newError(ErrInvalidRequest, "Thing group %s is not a dynamic thing group", in.Name)
			}
			g.Dynamic = g.Dynamic.with(*in.Query)
		}
		if in.Attributes != nil {
			g.Attributes = in.Attributes.apply(g.Attributes)
			if len(g.Attributes) > maxGroupAttributes {
				return newError(ErrInvalidRequest, "A thing group can have at most %d attributes (the update leaves %d)",
					maxGroupAttributes, len(g.Attributes))
			}
		}
		g.Version++
		if err := putJSON(tx.Bucket(bucketThingGroups), g.Name, g); err != nil {
			return err
		}
		ancestors, err := groupAncestors(tx, g)
		if err != nil {
			return err
		}
		version = g.Version
		return r.announceThingGroup(tx, emit, opUpdated, g, ancestors)
	})
	return version, err
}

// DeleteThingGroup deletes a thing group; deleting a missing group succeeds (the model has no
// ResourceNotFoundException for it). A group with child groups cannot be deleted; one with
// things can, and its things leave it. Policies attached to it are detached, so the group's
// things lose them at once.
func (r *Registry) DeleteThingGroup(name string, expectedVersion *int64) error {
	if err := validThingGroupName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		g, found, err := lookupGroup(tx, name)
		if err != nil || !found {
			return err
		}
		if hasPrefix(tx.Bucket(bucketGroupChildren), pairPrefix(name)) {
			return newError(ErrInvalidRequest, "Cannot delete thing group : %s when there are still child groups attached to it", name)
		}
		if expectedVersion != nil && *expectedVersion != g.Version {
			return newError(ErrVersionConflict,
				"The version for thing group %s does not match the expected version (expected %d, current %d)",
				name, *expectedVersion, g.Version)
		}
		ancestors, err := groupAncestors(tx, g)
		if err != nil {
			return err
		}
		things, err := secondParts(tx.Bucket(bucketGroupThings), name)
		if err != nil {
			return err
		}
		// The things lose the policies of this group and of its ancestors (unless they reach
		// them through another group; refreshing a connection that keeps them is harmless).
		affected, err := r.groupChainHasPolicies(tx, g, ancestors)
		if err != nil {
			return err
		}
		for _, thingName := range things {
			t, err := getThing(tx, thingName)
			if err != nil {
				return err
			}
			if err := r.leaveGroup(tx, emit, name, t); err != nil {
				return err
			}
		}
		if affected {
			if err := notifyThings(tx, emit, things, ""); err != nil {
				return err
			}
		}
		policies, err := attachedPolicyNames(tx, groupTargetKey(name))
		if err != nil {
			return err
		}
		for _, p := range policies {
			if err := unlinkPolicy(tx, p, groupTargetKey(name)); err != nil {
				return err
			}
		}
		if g.ParentName != "" {
			if err := delKey(tx.Bucket(bucketGroupChildren), pairKey(g.ParentName, name)); err != nil {
				return err
			}
		}
		if err := delKey(tx.Bucket(bucketThingGroups), []byte(name)); err != nil {
			return err
		}
		if err := deleteTags(tx, g.ARN); err != nil {
			return err
		}
		if err := r.announceThingGroup(tx, emit, opDeleted, g, ancestors); err != nil {
			return err
		}
		if len(ancestors) > 0 {
			return r.announceHierarchy(tx, emit, opRemoved, ancestors[len(ancestors)-1], g)
		}
		return nil
	})
}

// ListThingGroupsInput filters and pages ListThingGroups.
type ListThingGroupsInput struct {
	ParentGroup string // only the groups below this one (ErrNotFound if it does not exist)
	NamePrefix  string // only the groups whose name starts with this
	// Recursive (the default, when nil) lists the groups at every depth: all groups, or all
	// descendants of ParentGroup. False lists only the root groups, or ParentGroup's children.
	Recursive  *bool
	NextToken  string
	MaxResults int // 0: 50; at most 250
}

// ListThingGroups lists thing groups by name.
func (r *Registry) ListThingGroups(in ListThingGroupsInput) ([]ThingGroup, string, error) {
	if in.ParentGroup != "" {
		if err := validThingGroupName(in.ParentGroup); err != nil {
			return nil, "", err
		}
	}
	recursive := in.Recursive == nil || *in.Recursive
	var groups []ThingGroup
	var next string
	err := r.view(func(tx *bbolt.Tx) error {
		var names []string
		switch {
		case in.ParentGroup != "" && recursive:
			if _, err := getGroup(tx, in.ParentGroup); err != nil {
				return err
			}
			d, err := groupDescendants(tx, in.ParentGroup)
			if err != nil {
				return err
			}
			names = d
		case in.ParentGroup != "":
			if _, err := getGroup(tx, in.ParentGroup); err != nil {
				return err
			}
			c, err := secondParts(tx.Bucket(bucketGroupChildren), in.ParentGroup)
			if err != nil {
				return err
			}
			names = c
		default:
			err := tx.Bucket(bucketThingGroups).ForEach(func(k, v []byte) error {
				if !recursive {
					var g ThingGroup
					if err := decodeJSON(k, v, &g); err != nil {
						return err
					}
					if g.ParentName != "" {
						return nil
					}
				}
				names = append(names, string(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		names = slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, in.NamePrefix) })
		page, tok, err := pageNames(names, tokThingGroups, in.NextToken, in.MaxResults, defaultThingPage)
		if err != nil {
			return err
		}
		next = tok
		for _, n := range page {
			g, err := getGroup(tx, n)
			if err != nil {
				return err
			}
			groups = append(groups, g)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return groups, next, nil
}

// AddThingToThingGroup adds a thing to a group (idempotent). Both must exist (ErrNotFound). A
// thing belongs to at most ten groups, and to at most one group of a hierarchy (two groups
// with a common root); both limits are invalid requests, as the model has no
// LimitExceededException for this operation.
func (r *Registry) AddThingToThingGroup(groupName, thingName string) error {
	if err := validThingGroupName(groupName); err != nil {
		return err
	}
	if err := validThingName(thingName); err != nil {
		return err
	}
	return r.update(r.addThingToGroupTx(groupName, thingName))
}

// addThingToGroupTx is AddThingToThingGroup inside a write transaction (for Provision too).
func (r *Registry) addThingToGroupTx(groupName, thingName string) func(tx *bbolt.Tx, emit func(Event)) error {
	return func(tx *bbolt.Tx, emit func(Event)) error {
		g, err := getGroup(tx, groupName)
		if err != nil {
			return err
		}
		if g.Dynamic != nil {
			return errDynamicMembership(groupName)
		}
		t, err := getThing(tx, thingName)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketGroupThings).Get(pairKey(groupName, thingName)) != nil {
			return nil
		}
		current, err := secondParts(tx.Bucket(bucketThingGroupsOf), thingName)
		if err != nil {
			return err
		}
		if len(current) >= maxGroupsPerThing {
			return newError(ErrInvalidRequest, "Thing %s already belongs to the maximum of %d thing groups", thingName, maxGroupsPerThing)
		}
		root, err := rootOf(tx, g)
		if err != nil {
			return err
		}
		for _, other := range current {
			og, err := getGroup(tx, other)
			if err != nil {
				return err
			}
			oroot, err := rootOf(tx, og)
			if err != nil {
				return err
			}
			if oroot == root {
				return newError(ErrInvalidRequest,
					"Thing %s is already in thing group %s of the same hierarchy (root %s); a thing can be in only one group of a hierarchy",
					thingName, other, root)
			}
		}
		membership := uuid.NewString()
		if err := putKey(tx.Bucket(bucketGroupThings), pairKey(groupName, thingName), []byte(membership)); err != nil {
			return err
		}
		if err := putKey(tx.Bucket(bucketThingGroupsOf), pairKey(thingName, groupName), []byte(membership)); err != nil {
			return err
		}
		if err := r.announceMembership(tx, emit, opAdded, g, t, membership); err != nil {
			return err
		}
		emit(Event{Kind: MembershipChanged, ThingName: thingName, GroupName: groupName, Added: true})
		return r.notifyIfPolicies(tx, emit, g, thingName)
	}
}

// RemoveThingFromThingGroup removes a thing from a group. Both must exist (ErrNotFound);
// removing a thing that is not in the group succeeds.
func (r *Registry) RemoveThingFromThingGroup(groupName, thingName string) error {
	if err := validThingGroupName(groupName); err != nil {
		return err
	}
	if err := validThingName(thingName); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		g, err := getGroup(tx, groupName)
		if err != nil {
			return err
		}
		if g.Dynamic != nil {
			return errDynamicMembership(groupName)
		}
		t, err := getThing(tx, thingName)
		if err != nil {
			return err
		}
		if tx.Bucket(bucketGroupThings).Get(pairKey(groupName, thingName)) == nil {
			return nil
		}
		if err := r.leaveGroup(tx, emit, groupName, t); err != nil {
			return err
		}
		return r.notifyIfPolicies(tx, emit, g, thingName)
	})
}

// leaveGroup removes t from the named group and announces it; it does not notify connections.
func (r *Registry) leaveGroup(tx *bbolt.Tx, emit func(Event), groupName string, t Thing) error {
	g, err := getGroup(tx, groupName)
	if err != nil {
		return err
	}
	membership := string(tx.Bucket(bucketGroupThings).Get(pairKey(groupName, t.Name)))
	if err := delKey(tx.Bucket(bucketGroupThings), pairKey(groupName, t.Name)); err != nil {
		return err
	}
	if err := delKey(tx.Bucket(bucketThingGroupsOf), pairKey(t.Name, groupName)); err != nil {
		return err
	}
	emit(Event{Kind: MembershipChanged, ThingName: t.Name, GroupName: groupName})
	return r.announceMembership(tx, emit, opRemoved, g, t, membership)
}

// notifyIfPolicies tells the connections of thingName's certificates to recompile when g or an
// ancestor of g has policies, that is when joining or leaving g changes the thing's policies.
func (r *Registry) notifyIfPolicies(tx *bbolt.Tx, emit func(Event), g ThingGroup, thingName string) error {
	ancestors, err := groupAncestors(tx, g)
	if err != nil {
		return err
	}
	has, err := r.groupChainHasPolicies(tx, g, ancestors)
	if err != nil || !has {
		return err
	}
	return notifyThings(tx, emit, []string{thingName}, "")
}

// groupChainHasPolicies reports whether any policy is attached to g or to one of its ancestors.
func (r *Registry) groupChainHasPolicies(tx *bbolt.Tx, g ThingGroup, ancestors []ThingGroup) (bool, error) {
	b := tx.Bucket(bucketTargetPolicies)
	for _, a := range append(ancestors, g) {
		if hasPrefix(b, pairPrefix(groupTargetKey(a.Name))) {
			return true, nil
		}
	}
	return false, nil
}

// ListThingsInThingGroup pages the names of a group's things; recursive adds the things of
// every group below it. ErrNotFound if the group does not exist.
func (r *Registry) ListThingsInThingGroup(groupName string, recursive bool, nextToken string, maxResults int) ([]string, string, error) {
	if err := validThingGroupName(groupName); err != nil {
		return nil, "", err
	}
	var page []string
	var next string
	err := r.view(func(tx *bbolt.Tx) error {
		if _, err := getGroup(tx, groupName); err != nil {
			return err
		}
		groups := []string{groupName}
		if recursive {
			d, err := groupDescendants(tx, groupName)
			if err != nil {
				return err
			}
			groups = append(groups, d...)
		}
		set := map[string]bool{}
		for _, g := range groups {
			things, err := secondParts(tx.Bucket(bucketGroupThings), g)
			if err != nil {
				return err
			}
			for _, t := range things {
				set[t] = true
			}
		}
		var err error
		page, next, err = pageNames(slices.Collect(maps.Keys(set)), tokGroupThings, nextToken, maxResults, defaultPage)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return page, next, nil
}

// ListThingGroupsForThing pages the groups a thing belongs to, with their ancestors (as the
// developer guide shows the command answering), by name. ErrNotFound if the thing does not exist.
func (r *Registry) ListThingGroupsForThing(thingName, nextToken string, maxResults int) ([]GroupNameAndARN, string, error) {
	if err := validThingName(thingName); err != nil {
		return nil, "", err
	}
	var out []GroupNameAndARN
	var next string
	err := r.view(func(tx *bbolt.Tx) error {
		if _, err := getThing(tx, thingName); err != nil {
			return err
		}
		groups, err := thingGroupChain(tx, thingName)
		if err != nil {
			return err
		}
		byName := map[string]ThingGroup{}
		for _, g := range groups {
			byName[g.Name] = g
		}
		page, tok, err := pageNames(slices.Collect(maps.Keys(byName)), tokThingGroupsOf, nextToken, maxResults, defaultPage)
		if err != nil {
			return err
		}
		next = tok
		for _, n := range page {
			out = append(out, GroupNameAndARN{GroupName: n, GroupARN: byName[n].ARN})
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// thingGroupChain returns the groups a thing is in and all their ancestors (possibly repeated).
func thingGroupChain(tx *bbolt.Tx, thingName string) ([]ThingGroup, error) {
	direct, err := secondParts(tx.Bucket(bucketThingGroupsOf), thingName)
	if err != nil {
		return nil, err
	}
	var out []ThingGroup
	for _, n := range direct {
		g, err := getGroup(tx, n)
		if err != nil {
			return nil, err
		}
		chain, err := groupAncestors(tx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
		out = append(out, chain...)
	}
	return out, nil
}

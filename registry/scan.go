package registry

import "go.etcd.io/bbolt"

// ThingMembership is a thing with the groups it is directly in and its billing group, as fleet
// indexing documents it.
type ThingMembership struct {
	Thing        Thing
	Groups       []string // thing groups the thing is directly in, by name
	BillingGroup string   // "" for none
}

func membershipOf(tx *bbolt.Tx, t Thing) (ThingMembership, error) {
	groups, err := secondParts(tx.Bucket(bucketThingGroupsOf), t.Name)
	if err != nil {
		return ThingMembership{}, err
	}
	return ThingMembership{Thing: t, Groups: groups, BillingGroup: string(tx.Bucket(bucketThingBillingGroup).Get([]byte(t.Name)))}, nil
}

// EachThing calls fn with every thing and its memberships, in name order, in one read
// transaction (fn must not write to the registry).
func (r *Registry) EachThing(fn func(ThingMembership) error) error {
	return r.view(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketThings).ForEach(func(k, v []byte) error {
			var t Thing
			if err := decodeJSON(k, v, &t); err != nil {
				return err
			}
			m, err := membershipOf(tx, t)
			if err != nil {
				return err
			}
			return fn(m)
		})
	})
}

// ThingWithMemberships returns one thing and its memberships; found is false when there is no
// such thing.
func (r *Registry) ThingWithMemberships(name string) (m ThingMembership, found bool, err error) {
	err = r.view(func(tx *bbolt.Tx) error {
		var t Thing
		if found, err = getJSON(tx.Bucket(bucketThings), name, &t); err != nil || !found {
			return err
		}
		m, err = membershipOf(tx, t)
		return err
	})
	return m, found, err
}

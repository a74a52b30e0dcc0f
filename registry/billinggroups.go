package registry

import (
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// BillingGroup is a registry billing group: a flat set of things (no hierarchy, no policies)
// that AWS uses to split the bill; a thing belongs to at most one.
type BillingGroup struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	ARN          string    `json:"arn"`
	Description  string    `json:"description,omitempty"`
	Version      int64     `json:"version"`
	CreationDate time.Time `json:"creationDate"`
}

var (
	bucketBillingGroups      = []byte("billingGroups")      // billing group name -> BillingGroup
	bucketBillingGroupThings = []byte("billingGroupThings") // billing group name NUL thing name -> nothing
	bucketThingBillingGroup  = []byte("thingBillingGroup")  // thing name -> billing group name
)

const (
	tokBillingGroups      = 'B'
	tokBillingGroupThings = 'T'
)

// BillingGroupARN builds the ARN of the named billing group.
func (r *Registry) BillingGroupARN(name string) string { return r.arn("billinggroup/" + name) }

func validBillingGroupName(name string) error {
	if len(name) < 1 || len(name) > maxNameLen || !thingNameRE.MatchString(name) {
		return newError(ErrInvalidRequest,
			"Invalid billing group name %q: it must be 1-128 characters of a-z, A-Z, 0-9, ':', '_' and '-'", name)
	}
	return nil
}

func getBillingGroup(tx *bbolt.Tx, name string) (BillingGroup, error) {
	return getRecord[BillingGroup](tx, bucketBillingGroups, name, "Billing group %s does not exist")
}

// CreateBillingGroup creates a billing group. Creating an existing group with the same
// description returns it (AWS's idempotency); with another, ErrAlreadyExists.
func (r *Registry) CreateBillingGroup(name, description string, tags []Tag) (BillingGroup, error) {
	if err := validBillingGroupName(name); err != nil {
		return BillingGroup{}, err
	}
	if err := validDescription(description, "billingGroupDescription"); err != nil {
		return BillingGroup{}, err
	}
	tm, err := tagMap(tags)
	if err != nil {
		return BillingGroup{}, err
	}
	var out BillingGroup
	err = r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		var old BillingGroup
		found, err := getJSON(tx.Bucket(bucketBillingGroups), name, &old)
		if err != nil {
			return err
		}
		if found {
			if old.Description != description {
				return alreadyExists(old.ID, old.ARN, "Billing group %s already exists with different properties", name)
			}
			out = old
			return nil
		}
		out = BillingGroup{Name: name, ID: uuid.NewString(), ARN: r.BillingGroupARN(name), Description: description,
			Version: 1, CreationDate: r.nowUTC()}
		if err := putJSON(tx.Bucket(bucketBillingGroups), name, out); err != nil {
			return err
		}
		return putTags(tx, out.ARN, tm)
	})
	return out, err
}

// DescribeBillingGroup returns a billing group or ErrNotFound.
func (r *Registry) DescribeBillingGroup(name string) (BillingGroup, error) {
	if err := validBillingGroupName(name); err != nil {
		return BillingGroup{}, err
	}
	var out BillingGroup
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		out, err = getBillingGroup(tx, name)
		return err
	})
	return out, err
}

func billingVersionConflict(name string, expected, current int64) error {
	return newError(ErrVersionConflict,
		"The version for billing group %s does not match the expected version (expected %d, current %d)", name, expected, current)
}

// UpdateBillingGroup replaces a billing group's description and returns the new version. A
// non-nil expectedVersion must equal the current one (ErrVersionConflict).
func (r *Registry) UpdateBillingGroup(name, description string, expectedVersion *int64) (int64, error) {
	if err := validBillingGroupName(name); err != nil {
		return 0, err
	}
	if err := validDescription(description, "billingGroupDescription"); err != nil {
		return 0, err
	}
	var version int64
	err := r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		g, err := getBillingGroup(tx, name)
		if err != nil {
			return err
		}
		if expectedVersion != nil && *expectedVersion != g.Version {
			return billingVersionConflict(name, *expectedVersion, g.Version)
		}
		g.Description = description
		g.Version++
		version = g.Version
		return putJSON(tx.Bucket(bucketBillingGroups), name, g)
	})
	return version, err
}

// DeleteBillingGroup deletes a billing group, its memberships and its tags. Deleting a missing
// group succeeds (AWS lists no ResourceNotFoundException for it).
func (r *Registry) DeleteBillingGroup(name string, expectedVersion *int64) error {
	if err := validBillingGroupName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		var g BillingGroup
		found, err := getJSON(tx.Bucket(bucketBillingGroups), name, &g)
		if err != nil || !found {
			return err
		}
		if expectedVersion != nil && *expectedVersion != g.Version {
			return billingVersionConflict(name, *expectedVersion, g.Version)
		}
		things, err := secondParts(tx.Bucket(bucketBillingGroupThings), name)
		if err != nil {
			return err
		}
		for _, t := range things {
			if err := delKey(tx.Bucket(bucketBillingGroupThings), pairKey(name, t)); err != nil {
				return err
			}
			if err := delKey(tx.Bucket(bucketThingBillingGroup), []byte(t)); err != nil {
				return err
			}
		}
		if err := delKey(tx.Bucket(bucketBillingGroups), []byte(name)); err != nil {
			return err
		}
		return deleteTags(tx, g.ARN)
	})
}

// ListBillingGroups pages the billing groups whose names start with prefix, by name.
func (r *Registry) ListBillingGroups(prefix, nextToken string, maxResults int) ([]BillingGroup, string, error) {
	size, err := pageSize(maxResults, defaultPage, "maxResults")
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokBillingGroups, nextToken, "nextToken")
	if err != nil {
		return nil, "", err
	}
	var (
		out []BillingGroup
		p   = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketBillingGroups), []byte(prefix), from, true, func(k, v []byte) (bool, error) {
			if !p.take(k) {
				return false, nil
			}
			var g BillingGroup
			if err := decodeJSON(k, v, &g); err != nil {
				return false, err
			}
			out = append(out, g)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, p.token(tokBillingGroups), nil
}

// billingGroupName resolves a billing group given by name or ARN.
func (r *Registry) billingGroupName(name, arn string) (string, error) {
	if name != "" {
		return name, validBillingGroupName(name)
	}
	if arn == "" {
		return "", newError(ErrInvalidRequest, "billingGroupName or billingGroupArn is required")
	}
	return r.NameFromARN(arn, "billinggroup", "billingGroupArn")
}

// thingRef resolves a thing given by name or ARN.
func (r *Registry) thingRef(name, arn string) (string, error) {
	if name != "" {
		return name, validThingName(name)
	}
	if arn == "" {
		return "", newError(ErrInvalidRequest, "thingName or thingArn is required")
	}
	return r.NameFromARN(arn, "thing", "thingArn")
}

// AddThingToBillingGroup puts a thing (by name or ARN) in a billing group (by name or ARN). A
// thing is in at most one billing group: adding it to another moves it.
func (r *Registry) AddThingToBillingGroup(groupName, groupARN, thingName, thingARN string) error {
	group, err := r.billingGroupName(groupName, groupARN)
	if err != nil {
		return err
	}
	thing, err := r.thingRef(thingName, thingARN)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		if _, err := getBillingGroup(tx, group); err != nil {
			return err
		}
		if _, err := getThing(tx, thing); err != nil {
			return err
		}
		if err := leaveBillingGroup(tx, thing); err != nil {
			return err
		}
		if err := putKey(tx.Bucket(bucketBillingGroupThings), pairKey(group, thing), nil); err != nil {
			return err
		}
		emit(Event{Kind: ThingChanged, ThingName: thing})
		return putKey(tx.Bucket(bucketThingBillingGroup), []byte(thing), []byte(group))
	})
}

// RemoveThingFromBillingGroup takes a thing out of a billing group; a thing that is not in it
// is left alone.
func (r *Registry) RemoveThingFromBillingGroup(groupName, groupARN, thingName, thingARN string) error {
	group, err := r.billingGroupName(groupName, groupARN)
	if err != nil {
		return err
	}
	thing, err := r.thingRef(thingName, thingARN)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		if _, err := getBillingGroup(tx, group); err != nil {
			return err
		}
		if _, err := getThing(tx, thing); err != nil {
			return err
		}
		if string(tx.Bucket(bucketThingBillingGroup).Get([]byte(thing))) != group {
			return nil
		}
		emit(Event{Kind: ThingChanged, ThingName: thing})
		return leaveBillingGroup(tx, thing)
	})
}

// leaveBillingGroup removes a thing from its billing group, if it has one.
func leaveBillingGroup(tx *bbolt.Tx, thing string) error {
	g := tx.Bucket(bucketThingBillingGroup).Get([]byte(thing))
	if g == nil {
		return nil
	}
	if err := delKey(tx.Bucket(bucketBillingGroupThings), pairKey(string(g), thing)); err != nil {
		return err
	}
	return delKey(tx.Bucket(bucketThingBillingGroup), []byte(thing))
}

// ListThingsInBillingGroup pages the names of a billing group's things.
func (r *Registry) ListThingsInBillingGroup(group, nextToken string, maxResults int) ([]string, string, error) {
	if err := validBillingGroupName(group); err != nil {
		return nil, "", err
	}
	exists := func(tx *bbolt.Tx) error { _, err := getBillingGroup(tx, group); return err }
	return r.listPairs(pairListing{kind: tokBillingGroupThings, bucket: bucketBillingGroupThings, owner: group,
		exists: exists, value: func(s string) string { return s }}, nextToken, maxResults)
}

// ThingBillingGroup returns the name of the billing group a thing is in ("" for none).
func (r *Registry) ThingBillingGroup(thing string) (string, error) {
	var g string
	err := r.view(func(tx *bbolt.Tx) error {
		g = string(tx.Bucket(bucketThingBillingGroup).Get([]byte(thing)))
		return nil
	})
	return g, err
}

package registry

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// CreatePolicy stores a new policy with its first version, "1", as the default.
// ErrAlreadyExists if the name is taken, ErrMalformedPolicy if the document is refused.
//
// The document must be a JSON object of at most 2048 characters not counting whitespace (the AWS
// IoT quota), and pass Options.ValidatePolicy.
func (r *Registry) CreatePolicy(name, document string) (Policy, error) {
	return r.CreatePolicyWithTags(name, document, nil)
}

// CreatePolicyWithTags is CreatePolicy with the tags CreatePolicy's request may carry, stored in
// the same transaction.
func (r *Registry) CreatePolicyWithTags(name, document string, tags []Tag) (Policy, error) {
	if err := validPolicyName(name); err != nil {
		return Policy{}, err
	}
	if err := r.checkPolicyDocument(document); err != nil {
		return Policy{}, err
	}
	tagged, err := tagMap(tags)
	if err != nil {
		return Policy{}, err
	}
	now := r.nowUTC()
	p := Policy{
		Name:             name,
		ARN:              r.PolicyARN(name),
		Document:         document,
		DefaultVersionID: "1",
		GenerationID:     uuid.NewString(),
		CreationDate:     now,
		LastModifiedDate: now,
	}
	err = r.update(insertPolicyTx(p, document, tagged, now))
	if err != nil {
		return Policy{}, err
	}
	return p, nil
}

// insertPolicyTx stores a new policy with its first version and tags (for Provision too).
func insertPolicyTx(p Policy, document string, tagged map[string]string, now time.Time) func(tx *bbolt.Tx, emit func(Event)) error {
	name := p.Name
	return func(tx *bbolt.Tx, _ func(Event)) error {
		b := tx.Bucket(bucketPolicies)
		if b.Get([]byte(name)) != nil {
			return alreadyExists(name, p.ARN, "Policy %s already exists", name)
		}
		if err := putJSON(b, name, p); err != nil {
			return err
		}
		if err := putTags(tx, p.ARN, tagged); err != nil {
			return err
		}
		v := storedVersion{Document: document, GenerationID: p.GenerationID, CreationDate: now, LastModifiedDate: now}
		if err := putVersion(tx, name, 1, v); err != nil {
			return err
		}
		return setLastVersionNo(tx, name, 1)
	}
}

// checkPolicyDocument applies the document rules of CreatePolicy, cheapest first.
func (r *Registry) checkPolicyDocument(doc string) error {
	trimmed := bytes.TrimSpace([]byte(doc))
	var obj map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &obj) != nil {
		if r.valid != nil && len(trimmed) > 0 && trimmed[0] == '{' {
			// The validator names line and column of a JSON syntax error.
			if err := r.valid(doc); err != nil {
				return newError(ErrMalformedPolicy, "Policy document is not a valid JSON object: %s", err.Error())
			}
		}
		return newError(ErrMalformedPolicy, "Policy document is not a valid JSON object")
	}
	if n := policyChars(doc); n > maxPolicyChars {
		return newError(ErrMalformedPolicy,
			"Policy document length %d exceeds the limit of %d characters (whitespace excluded)", n, maxPolicyChars)
	}
	if r.valid != nil {
		if err := r.valid(doc); err != nil {
			return newError(ErrMalformedPolicy, "%s", err.Error())
		}
	}
	return nil
}

// GetPolicy returns a policy or ErrNotFound.
func (r *Registry) GetPolicy(name string) (Policy, error) {
	if err := validPolicyName(name); err != nil {
		return Policy{}, err
	}
	var p Policy
	err := r.view(func(tx *bbolt.Tx) error {
		var err error
		p, err = getPolicy(tx, name)
		return err
	})
	return p, err
}

// getPolicy reads a policy or returns ErrNotFound.
func getPolicy(tx *bbolt.Tx, name string) (Policy, error) {
	return getRecord[Policy](tx, bucketPolicies, name, "Policy %s does not exist")
}

// ListPolicies pages policies by name; the returned marker is empty on the last page. pageSize 0
// means 25; at most 250.
func (r *Registry) ListPolicies(marker string, pageSize int, ascending bool) ([]Policy, string, error) {
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokPolicies, marker, "marker")
	if err != nil {
		return nil, "", err
	}
	var (
		policies []Policy
		pg       = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		return walk(tx.Bucket(bucketPolicies), nil, from, ascending, func(k, v []byte) (bool, error) {
			if !pg.take(k) {
				return false, nil
			}
			var p Policy
			if err := decodeJSON(k, v, &p); err != nil {
				return false, err
			}
			policies = append(policies, p)
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return policies, pg.token(tokPolicies), nil
}

// DeletePolicy deletes a policy with its default version; ErrDeleteConflict while it is attached
// or has other versions (AWS makes you delete those first, with DeletePolicyVersion).
func (r *Registry) DeletePolicy(name string) error {
	if err := validPolicyName(name); err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		if hasPrefix(tx.Bucket(bucketPolicyTargets), pairPrefix(name)) {
			return newError(ErrDeleteConflict,
				"The policy cannot be deleted as the policy is attached to one or more principals (name=%s)", name)
		}
		nums, err := versionNumbers(tx, name)
		if err != nil {
			return err
		}
		def, err := defaultVersionNo(p)
		if err != nil {
			return err
		}
		for _, n := range nums {
			if n != def {
				return newError(ErrDeleteConflict, "The policy cannot be deleted as the policy has non-default versions")
			}
		}
		if err := deleteVersions(tx, name); err != nil {
			return err
		}
		if err := delKey(tx.Bucket(bucketPolicies), []byte(name)); err != nil {
			return err
		}
		if err := deleteTags(tx, p.ARN); err != nil {
			return err
		}
		emit(Event{Kind: PolicyChanged, PolicyName: name})
		return nil
	})
}

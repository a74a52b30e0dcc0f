package registry

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"
)

// maxPolicyVersions is AWS IoT's quota of versions kept for one policy.
const maxPolicyVersions = 5

// storedVersion is one policy version as stored. Whether it is the default is not stored: the
// policy record's DefaultVersionID says so, and keeping it in one place means the two cannot
// disagree.
type storedVersion struct {
	Document         string    `json:"document"`
	GenerationID     string    `json:"generationId"`
	CreationDate     time.Time `json:"creationDate"`
	LastModifiedDate time.Time `json:"lastModifiedDate"`
}

// versionKey is the key of version n of a policy: the name, NUL, n as 8 big-endian bytes, so
// that a policy's versions sort by number.
func versionKey(name string, n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return pairKey(name, string(b[:]))
}

// versionNoOf reads the version number back from a versionKey with the given prefix.
func versionNoOf(k, prefix []byte) uint64 {
	if len(k) != len(prefix)+8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(prefix):])
}

// formatVersion is the wire form of a version number: "1", "2", ...
func formatVersion(n uint64) string { return strconv.FormatUint(n, 10) }

// parseVersionID reads a policyVersionId. Anything but digits is an invalid request; digits that
// cannot be a version this registry issued ("0", "01", a number too large) name no version.
func parseVersionID(policy, id string) (uint64, error) {
	if id == "" {
		return 0, newError(ErrInvalidRequest, "Invalid policy version ID %q: it must be a number", id)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return 0, newError(ErrInvalidRequest, "Invalid policy version ID %q: it must be a number", id)
		}
	}
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 || formatVersion(n) != id {
		return 0, versionNotFound(policy, id)
	}
	return n, nil
}

func versionNotFound(policy, id string) error {
	return newError(ErrNotFound, "Policy %s has no version %s", policy, id)
}

// defaultVersionNo is the number of a policy's default version. Every policy this registry
// wrote has a numeric default version id; a stored one that does not is a damaged file.
func defaultVersionNo(p Policy) (uint64, error) {
	n, err := strconv.ParseUint(p.DefaultVersionID, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("registry: policy %s has a malformed default version id %q: %w", p.Name, p.DefaultVersionID, err)
	}
	return n, nil
}

// getVersion reads version n of a policy; found is false when there is none.
func getVersion(tx *bbolt.Tx, name string, n uint64) (v storedVersion, found bool, err error) {
	k := versionKey(name, n)
	data := tx.Bucket(bucketPolicyVersions).Get(k)
	if data == nil {
		return storedVersion{}, false, nil
	}
	if err := decodeJSON(k, data, &v); err != nil {
		return storedVersion{}, false, err
	}
	return v, true, nil
}

// putVersion stores version n of a policy.
func putVersion(tx *bbolt.Tx, name string, n uint64, v storedVersion) error {
	return putJSON(tx.Bucket(bucketPolicyVersions), string(versionKey(name, n)), v)
}

// versionNumbers lists the numbers of a policy's versions in ascending order.
func versionNumbers(tx *bbolt.Tx, name string) ([]uint64, error) {
	var out []uint64
	prefix := pairPrefix(name)
	err := walk(tx.Bucket(bucketPolicyVersions), prefix, nil, true, func(k, _ []byte) (bool, error) {
		out = append(out, versionNoOf(k, prefix))
		return true, nil
	})
	return out, err
}

// issueVersionNo returns the next version number of a policy and records it as issued, so that
// a number is never handed out twice, even after its version is deleted.
func issueVersionNo(tx *bbolt.Tx, name string) (uint64, error) {
	b := tx.Bucket(bucketPolicyVersionNo)
	var last uint64
	if v := b.Get([]byte(name)); len(v) == 8 {
		last = binary.BigEndian.Uint64(v)
	}
	if err := setLastVersionNo(tx, name, last+1); err != nil {
		return 0, err
	}
	return last + 1, nil
}

// setLastVersionNo records n as the last version number issued for a policy.
func setLastVersionNo(tx *bbolt.Tx, name string, n uint64) error {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], n)
	return putKey(tx.Bucket(bucketPolicyVersionNo), []byte(name), v[:])
}

// deleteVersions removes every version of a policy and its version counter.
func deleteVersions(tx *bbolt.Tx, name string) error {
	nums, err := versionNumbers(tx, name)
	if err != nil {
		return err
	}
	for _, n := range nums {
		if err := delKey(tx.Bucket(bucketPolicyVersions), versionKey(name, n)); err != nil {
			return err
		}
	}
	return delKey(tx.Bucket(bucketPolicyVersionNo), []byte(name))
}

// addPolicyVersions upgrades a schema-1 file, which kept only each policy's current document:
// that document becomes the policy's one version, numbered by its default version id.
func addPolicyVersions(tx *bbolt.Tx) error {
	return tx.Bucket(bucketPolicies).ForEach(func(k, data []byte) error {
		var p Policy
		if err := decodeJSON(k, data, &p); err != nil {
			return err
		}
		n, err := defaultVersionNo(p)
		if err != nil {
			return err
		}
		v := storedVersion{Document: p.Document, GenerationID: p.GenerationID, CreationDate: p.CreationDate, LastModifiedDate: p.LastModifiedDate}
		if err := putVersion(tx, p.Name, n, v); err != nil {
			return err
		}
		return setLastVersionNo(tx, p.Name, n)
	})
}

// versionOf builds the PolicyVersion the registry returns.
func versionOf(p Policy, n uint64, v storedVersion) PolicyVersion {
	id := formatVersion(n)
	return PolicyVersion{
		PolicyName:       p.Name,
		PolicyARN:        p.ARN,
		VersionID:        id,
		Document:         v.Document,
		IsDefault:        id == p.DefaultVersionID,
		GenerationID:     v.GenerationID,
		CreationDate:     v.CreationDate,
		LastModifiedDate: v.LastModifiedDate,
	}
}

// CreatePolicyVersion adds a version to a policy and, with setAsDefault, makes it the version in
// force (Policy.Document). Version ids count up from the policy's creation and are never reused.
// A policy keeps at most 5 versions: a sixth gives ErrVersionsLimitExceeded, and one must be
// deleted first. The document is checked as by CreatePolicy (ErrMalformedPolicy).
//
// Making the new version the default notifies watchers with PolicyChanged; adding a version that
// is not in force changes no decision and notifies no one.
func (r *Registry) CreatePolicyVersion(name, document string, setAsDefault bool) (PolicyVersion, error) {
	if err := validPolicyName(name); err != nil {
		return PolicyVersion{}, err
	}
	if err := r.checkPolicyDocument(document); err != nil {
		return PolicyVersion{}, err
	}
	now := r.nowUTC()
	var out PolicyVersion
	err := r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		nums, err := versionNumbers(tx, name)
		if err != nil {
			return err
		}
		if len(nums) >= maxPolicyVersions {
			return newError(ErrVersionsLimitExceeded,
				"The policy %s already has the maximum of %d versions; delete one before creating another", name, maxPolicyVersions)
		}
		n, err := issueVersionNo(tx, name)
		if err != nil {
			return err
		}
		v := storedVersion{Document: document, GenerationID: uuid.NewString(), CreationDate: now, LastModifiedDate: now}
		if err := putVersion(tx, name, n, v); err != nil {
			return err
		}
		if setAsDefault {
			if p, err = r.makeDefault(tx, p, n, v, now); err != nil {
				return err
			}
			emit(Event{Kind: PolicyChanged, PolicyName: name})
		}
		out = versionOf(p, n, v)
		return nil
	})
	if err != nil {
		return PolicyVersion{}, err
	}
	return out, nil
}

// makeDefault makes version n (already stored as v) the policy's default: the policy record
// takes its document and generation, and both the old and the new default are marked modified.
// It returns the updated policy.
func (r *Registry) makeDefault(tx *bbolt.Tx, p Policy, n uint64, v storedVersion, now time.Time) (Policy, error) {
	old, err := defaultVersionNo(p)
	if err != nil {
		return Policy{}, err
	}
	if ov, found, err := getVersion(tx, p.Name, old); err != nil {
		return Policy{}, err
	} else if found && old != n {
		ov.LastModifiedDate = now
		if err := putVersion(tx, p.Name, old, ov); err != nil {
			return Policy{}, err
		}
	}
	v.LastModifiedDate = now
	if err := putVersion(tx, p.Name, n, v); err != nil {
		return Policy{}, err
	}
	p.Document = v.Document
	p.DefaultVersionID = formatVersion(n)
	p.GenerationID = v.GenerationID
	p.LastModifiedDate = now
	if err := putJSON(tx.Bucket(bucketPolicies), p.Name, p); err != nil {
		return Policy{}, err
	}
	return p, nil
}

// GetPolicyVersion returns one version of a policy; ErrNotFound if the policy or the version
// does not exist.
func (r *Registry) GetPolicyVersion(name, versionID string) (PolicyVersion, error) {
	if err := validPolicyName(name); err != nil {
		return PolicyVersion{}, err
	}
	n, err := parseVersionID(name, versionID)
	if err != nil {
		return PolicyVersion{}, err
	}
	var out PolicyVersion
	err = r.view(func(tx *bbolt.Tx) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		v, found, err := getVersion(tx, name, n)
		if err != nil {
			return err
		}
		if !found {
			return versionNotFound(name, versionID)
		}
		out = versionOf(p, n, v)
		return nil
	})
	if err != nil {
		return PolicyVersion{}, err
	}
	return out, nil
}

// ListPolicyVersions lists a policy's versions, newest first (as AWS lists them).
func (r *Registry) ListPolicyVersions(name string) ([]PolicyVersion, error) {
	if err := validPolicyName(name); err != nil {
		return nil, err
	}
	var out []PolicyVersion
	err := r.view(func(tx *bbolt.Tx) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		prefix := pairPrefix(name)
		return walk(tx.Bucket(bucketPolicyVersions), prefix, nil, false, func(k, data []byte) (bool, error) {
			var v storedVersion
			if err := decodeJSON(k, data, &v); err != nil {
				return false, err
			}
			out = append(out, versionOf(p, versionNoOf(k, prefix), v))
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetDefaultPolicyVersion puts a version of a policy in force: Policy.Document becomes its
// document and watchers get PolicyChanged. Setting the version that already is the default
// succeeds and changes nothing.
func (r *Registry) SetDefaultPolicyVersion(name, versionID string) error {
	if err := validPolicyName(name); err != nil {
		return err
	}
	n, err := parseVersionID(name, versionID)
	if err != nil {
		return err
	}
	now := r.nowUTC()
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		v, found, err := getVersion(tx, name, n)
		if err != nil {
			return err
		}
		if !found {
			return versionNotFound(name, versionID)
		}
		if p.DefaultVersionID == versionID {
			return nil
		}
		if _, err := r.makeDefault(tx, p, n, v, now); err != nil {
			return err
		}
		emit(Event{Kind: PolicyChanged, PolicyName: name})
		return nil
	})
}

// DeletePolicyVersion deletes a version that is not the policy's default; the default gives
// ErrDeleteConflict (DeletePolicy removes a policy with its last version). Its number is not
// reused. No decision changes, so watchers are not notified.
func (r *Registry) DeletePolicyVersion(name, versionID string) error {
	if err := validPolicyName(name); err != nil {
		return err
	}
	n, err := parseVersionID(name, versionID)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		p, err := getPolicy(tx, name)
		if err != nil {
			return err
		}
		if _, found, err := getVersion(tx, name, n); err != nil {
			return err
		} else if !found {
			return versionNotFound(name, versionID)
		}
		if p.DefaultVersionID == versionID {
			return newError(ErrDeleteConflict, "Cannot delete the default version of a policy")
		}
		return delKey(tx.Bucket(bucketPolicyVersions), versionKey(name, n))
	})
}

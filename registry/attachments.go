package registry

import (
	"bytes"
	"maps"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// maxPoliciesPerTarget is AWS IoT's quota of policies attached to one certificate.
const maxPoliciesPerTarget = 10

// principalCertID returns the certificate id named by a principal or target. Only certificate
// ARNs are supported: anything else is an invalid request, and a certificate ARN of another region
// or account names no certificate here. The certificate's existence is checked by the caller.
func (r *Registry) principalCertID(principal, param string) (string, error) {
	if !isCertificateARN(principal) {
		return "", newError(ErrInvalidRequest,
			"Invalid %s %q: only certificate ARNs (arn:aws:iot:REGION:ACCOUNT:cert/ID) are supported", param, principal)
	}
	parts := strings.SplitN(principal, ":", 6)
	id, err := certID(strings.TrimPrefix(parts[5], "cert/"))
	if err != nil {
		return "", err
	}
	if parts[1] != "aws" || parts[3] != r.region || parts[4] != r.acct {
		return "", newError(ErrNotFound,
			"The certificate given in the %s does not exist in region %s, account %s", param, r.region, r.acct)
	}
	return id, nil
}

// certExists returns ErrNotFound unless the certificate is registered.
func certExists(tx *bbolt.Tx, id, param string) error {
	if tx.Bucket(bucketCerts).Get([]byte(id)) == nil {
		return newError(ErrNotFound, "The certificate given in the %s does not exist", param)
	}
	return nil
}

// groupTargetPrefix starts the key of a thing group in the policy attachment buckets, where
// certificates are keyed by their id. Certificate ids are hexadecimal and never contain '/', so
// the two kinds of key cannot collide.
const groupTargetPrefix = "thinggroup/"

// groupTargetKey is the key of a thing group in the policy attachment buckets.
func groupTargetKey(name string) string { return groupTargetPrefix + name }

// policyTarget is a resolved target of AttachPolicy and its relatives: a certificate (key is its
// id) or a thing group (group is its name, key is groupTargetKey(group)).
type policyTarget struct {
	key     string
	group   string
	cognito bool // a Cognito identity id (see cognito.go)
}

// policyTarget resolves a target ARN: a certificate ARN or a thing group ARN of this registry's
// region and account. Another region or account names nothing here (ErrNotFound); anything else
// (a Cognito identity, a malformed ARN) is an invalid request. Existence is checked by the caller.
func (r *Registry) policyTarget(target string) (policyTarget, error) {
	if IsCognitoIdentityID(target) {
		return policyTarget{key: cognitoTargetPrefix + target, cognito: true}, nil
	}
	if isCertificateARN(target) {
		id, err := r.principalCertID(target, "target")
		return policyTarget{key: id}, err
	}
	name, err := r.NameFromARN(target, "thinggroup", "target")
	if err != nil {
		if isKind(err, ErrInvalidRequest) {
			return policyTarget{}, newError(ErrInvalidRequest,
				"Invalid target %q: only certificate ARNs (arn:aws:iot:REGION:ACCOUNT:cert/ID) , thing group ARNs (…:thinggroup/NAME) and Cognito identity ids (REGION:UUID) are supported", target)
		}
		return policyTarget{}, err
	}
	if err := validThingGroupName(name); err != nil {
		return policyTarget{}, err
	}
	return policyTarget{key: groupTargetKey(name), group: name}, nil
}

// targetExists returns ErrNotFound unless the target's certificate or thing group exists.
func targetExists(tx *bbolt.Tx, t policyTarget) error {
	if t.cognito {
		return nil
	}
	if t.group == "" {
		return certExists(tx, t.key, "target")
	}
	_, err := getGroup(tx, t.group)
	return err
}

// AttachPolicy attaches a policy to a target: a certificate ARN or a thing group ARN. Idempotent.
// At most 10 policies may be attached to one certificate and 2 to one thing group
// (ErrLimitExceeded). Attaching to a group notifies the connections of the certificates of
// every thing in the group and the groups below it.
func (r *Registry) AttachPolicy(policyName, target string) error {
	if err := validPolicyName(policyName); err != nil {
		return err
	}
	t, err := r.policyTarget(target)
	if err != nil {
		return err
	}
	return r.update(r.attachPolicyTx(policyName, target, t))
}

// attachPolicyTx is AttachPolicy inside a write transaction (for Provision too).
func (r *Registry) attachPolicyTx(policyName, target string, t policyTarget) func(tx *bbolt.Tx, emit func(Event)) error {
	return func(tx *bbolt.Tx, emit func(Event)) error {
		if _, err := getPolicy(tx, policyName); err != nil {
			return err
		}
		if err := targetExists(tx, t); err != nil {
			return err
		}
		if t.group != "" {
			if g, err := getGroup(tx, t.group); err == nil && g.Dynamic != nil {
				return newError(ErrInvalidRequest, "Policies cannot be attached to dynamic thing group %s", t.group)
			}
		}
		if tx.Bucket(bucketTargetPolicies).Get(pairKey(t.key, policyName)) != nil {
			return nil
		}
		attached, err := attachedPolicyNames(tx, t.key)
		if err != nil {
			return err
		}
		limit := maxPoliciesPerTarget
		if t.group != "" && !t.cognito {
			limit = maxPoliciesPerGroup
		}
		if len(attached) >= limit {
			return newError(ErrLimitExceeded,
				"The target %s already has the maximum of %d policies attached", target, limit)
		}
		if err := putKey(tx.Bucket(bucketTargetPolicies), pairKey(t.key, policyName), nil); err != nil {
			return err
		}
		if err := putKey(tx.Bucket(bucketPolicyTargets), pairKey(policyName, t.key), nil); err != nil {
			return err
		}
		return notifyTarget(tx, emit, t, policyName)
	}
}

// notifyTarget tells the connections whose policies a change of t's policies affects: the
// certificate's own, or those of the certificates of every thing in the group and below it.
func notifyTarget(tx *bbolt.Tx, emit func(Event), t policyTarget, policyName string) error {
	if t.cognito {
		// The connections of the identity recompile with every other one: policies in force changed.
		emit(Event{Kind: PolicyChanged, PolicyName: policyName})
		return nil
	}
	if t.group == "" {
		emit(Event{Kind: AttachmentChanged, CertificateID: t.key, PolicyName: policyName})
		return nil
	}
	groups, err := groupDescendants(tx, t.group)
	if err != nil {
		return err
	}
	var things []string
	for _, g := range append(groups, t.group) {
		members, err := secondParts(tx.Bucket(bucketGroupThings), g)
		if err != nil {
			return err
		}
		things = append(things, members...)
	}
	return notifyThings(tx, emit, things, policyName)
}

// notifyThings emits one AttachmentChanged per certificate attached to any of the things, in id
// order, each once; policyName names the policy whose attachment changed, if one did.
func notifyThings(tx *bbolt.Tx, emit func(Event), things []string, policyName string) error {
	certs := map[string]bool{}
	for _, th := range things {
		ids, err := secondParts(tx.Bucket(bucketThingPrincipals), th)
		if err != nil {
			return err
		}
		for _, id := range ids {
			certs[id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(certs)) {
		emit(Event{Kind: AttachmentChanged, CertificateID: id, PolicyName: policyName})
	}
	return nil
}

// DetachPolicy detaches a policy from a target. Idempotent: detaching what is not attached, or
// from a certificate, group or policy that does not exist, succeeds.
func (r *Registry) DetachPolicy(policyName, target string) error {
	if err := validPolicyName(policyName); err != nil {
		return err
	}
	t, err := r.policyTarget(target)
	if err != nil {
		if isKind(err, ErrNotFound) {
			return nil
		}
		return err
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		if tx.Bucket(bucketTargetPolicies).Get(pairKey(t.key, policyName)) == nil {
			return nil
		}
		if err := unlinkPolicy(tx, policyName, t.key); err != nil {
			return err
		}
		return notifyTarget(tx, emit, t, policyName)
	})
}

// unlinkPolicy removes both keys of a policy attachment.
func unlinkPolicy(tx *bbolt.Tx, policyName, key string) error {
	if err := delKey(tx.Bucket(bucketTargetPolicies), pairKey(key, policyName)); err != nil {
		return err
	}
	return delKey(tx.Bucket(bucketPolicyTargets), pairKey(policyName, key))
}

// ListAttachedPolicies lists the policies attached to a target, by name. For a thing group,
// recursive adds the policies attached to its ancestors (each policy once).
func (r *Registry) ListAttachedPolicies(target string, recursive bool) ([]Policy, error) {
	t, err := r.policyTarget(target)
	if err != nil {
		return nil, err
	}
	var policies []Policy
	err = r.view(func(tx *bbolt.Tx) error {
		if err := targetExists(tx, t); err != nil {
			return err
		}
		keys := []string{t.key}
		if t.group != "" && recursive {
			g, err := getGroup(tx, t.group)
			if err != nil {
				return err
			}
			chain, err := groupAncestors(tx, g)
			if err != nil {
				return err
			}
			for _, a := range chain {
				keys = append(keys, groupTargetKey(a.Name))
			}
		}
		policies, err = policiesOfTargets(tx, keys)
		return err
	})
	if err != nil {
		return nil, err
	}
	return policies, nil
}

// policiesOfTargets reads the policies attached to any of the target keys, by name, each once.
func policiesOfTargets(tx *bbolt.Tx, keys []string) ([]Policy, error) {
	var names []string
	for _, k := range keys {
		n, err := attachedPolicyNames(tx, k)
		if err != nil {
			return nil, err
		}
		names = append(names, n...)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	policies := make([]Policy, 0, len(names))
	for _, name := range names {
		p, err := getPolicy(tx, name)
		if err != nil {
			return nil, err
		}
		policies = append(policies, p)
	}
	return policies, nil
}

// thingGroupPolicies reads the policies attached to the groups of a thing and their ancestors.
func thingGroupPolicies(tx *bbolt.Tx, thingName string) ([]Policy, error) {
	groups, err := thingGroupChain(tx, thingName)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	keys := make([]string, 0, len(groups))
	for _, g := range groups {
		keys = append(keys, groupTargetKey(g.Name))
	}
	return policiesOfTargets(tx, keys)
}

// ListTargetsForPolicy pages the targets a policy is attached to: certificate ARNs (by
// certificate id), then thing group ARNs (by name). ErrNotFound if the policy does not exist.
// pageSize 0 means 25; at most 250.
func (r *Registry) ListTargetsForPolicy(policyName, marker string, pageSize int) ([]string, string, error) {
	if err := validPolicyName(policyName); err != nil {
		return nil, "", err
	}
	size, err := pageSizeOf(pageSize)
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(tokPolicyTargets, marker, "marker")
	if err != nil {
		return nil, "", err
	}
	prefix := pairPrefix(policyName)
	if from, err = resumeKey(prefix, from, "marker"); err != nil {
		return nil, "", err
	}
	var (
		out []string
		p   = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		if _, err := getPolicy(tx, policyName); err != nil {
			return err
		}
		return walk(tx.Bucket(bucketPolicyTargets), prefix, from, true, func(k, _ []byte) (bool, error) {
			if !p.take(k) {
				return false, nil
			}
			key := secondOf(k, prefix)
			if group, ok := strings.CutPrefix(key, groupTargetPrefix); ok {
				out = append(out, r.ThingGroupARN(group))
			} else if id, ok := strings.CutPrefix(key, cognitoTargetPrefix); ok {
				out = append(out, id)
			} else {
				out = append(out, r.CertificateARN(key))
			}
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, p.token(tokPolicyTargets), nil
}

// attachedPolicyNames lists the names of the policies attached to a certificate, in name order.
func attachedPolicyNames(tx *bbolt.Tx, id string) ([]string, error) {
	var names []string
	prefix := pairPrefix(id)
	err := walk(tx.Bucket(bucketTargetPolicies), prefix, nil, true, func(k, _ []byte) (bool, error) {
		names = append(names, secondOf(k, prefix))
		return true, nil
	})
	return names, err
}

// attachedPolicies reads the policies attached to a certificate, in name order.
func attachedPolicies(tx *bbolt.Tx, id string) ([]Policy, error) {
	names, err := attachedPolicyNames(tx, id)
	if err != nil {
		return nil, err
	}
	policies := make([]Policy, 0, len(names))
	for _, name := range names {
		p, err := getPolicy(tx, name)
		if err != nil {
			return nil, err
		}
		policies = append(policies, p)
	}
	return policies, nil
}

// AttachThingPrincipal attaches a principal (certificate ARN) to a thing. An empty type means
// NON_EXCLUSIVE_THING. A certificate attached to a thing EXCLUSIVE_THING may not be attached to any
// other thing, and may only be attached EXCLUSIVE_THING while no other thing has it. Attaching again
// updates the type.
func (r *Registry) AttachThingPrincipal(thingName, principal string, typ ThingPrincipalType) error {
	if err := validThingName(thingName); err != nil {
		return err
	}
	switch typ {
	case "":
		typ = NonExclusiveThing
	case NonExclusiveThing, ExclusiveThing:
	default:
		return newError(ErrInvalidRequest, "Invalid thingPrincipalType %q: it must be %s or %s",
			typ, ExclusiveThing, NonExclusiveThing)
	}
	id, err := r.principalCertID(principal, "principal")
	if err != nil {
		return err
	}
	return r.update(r.attachThingPrincipalTx(thingName, principal, id, typ))
}

// attachThingPrincipalTx is AttachThingPrincipal inside a write transaction (for Provision too).
func (r *Registry) attachThingPrincipalTx(thingName, principal, id string, typ ThingPrincipalType) func(tx *bbolt.Tx, emit func(Event)) error {
	return func(tx *bbolt.Tx, emit func(Event)) error {
		if _, err := getThing(tx, thingName); err != nil {
			return err
		}
		if err := certExists(tx, id, "principal"); err != nil {
			return err
		}
		prefix := pairPrefix(id)
		var current ThingPrincipalType
		err := walk(tx.Bucket(bucketPrincipalThings), prefix, nil, true, func(k, v []byte) (bool, error) {
			other := secondOf(k, prefix)
			if other == thingName {
				current = ThingPrincipalType(v)
				return true, nil
			}
			if typ == ExclusiveThing {
				return false, newError(ErrInvalidRequest,
					"Principal %s is already attached to thing %s and cannot be attached exclusively to %s",
					principal, other, thingName)
			}
			if ThingPrincipalType(v) == ExclusiveThing {
				return false, newError(ErrInvalidRequest,
					"Principal %s is attached exclusively to thing %s", principal, other)
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if current == typ {
			return nil
		}
		if err := putKey(tx.Bucket(bucketPrincipalThings), pairKey(id, thingName), []byte(typ)); err != nil {
			return err
		}
		if err := putKey(tx.Bucket(bucketThingPrincipals), pairKey(thingName, id), []byte(typ)); err != nil {
			return err
		}
		emit(Event{Kind: AttachmentChanged, CertificateID: id})
		return nil
	}
}

// DetachThingPrincipal detaches a principal from a thing. The thing must exist (ErrNotFound);
// detaching a principal that is not attached succeeds.
func (r *Registry) DetachThingPrincipal(thingName, principal string) error {
	if err := validThingName(thingName); err != nil {
		return err
	}
	id, idErr := r.principalCertID(principal, "principal")
	if idErr != nil && !isKind(idErr, ErrNotFound) {
		return idErr
	}
	return r.update(func(tx *bbolt.Tx, emit func(Event)) error {
		if _, err := getThing(tx, thingName); err != nil {
			return err
		}
		if idErr != nil || tx.Bucket(bucketThingPrincipals).Get(pairKey(thingName, id)) == nil {
			return nil
		}
		if err := delKey(tx.Bucket(bucketThingPrincipals), pairKey(thingName, id)); err != nil {
			return err
		}
		if err := delKey(tx.Bucket(bucketPrincipalThings), pairKey(id, thingName)); err != nil {
			return err
		}
		emit(Event{Kind: AttachmentChanged, CertificateID: id})
		return nil
	})
}

// ListThingPrincipals pages the principals (certificate ARNs, by certificate id) attached to a
// thing. maxResults 0 means 25; at most 250.
func (r *Registry) ListThingPrincipals(thingName, nextToken string, maxResults int) ([]string, string, error) {
	if err := validThingName(thingName); err != nil {
		return nil, "", err
	}
	exists := func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketThings).Get([]byte(thingName)) == nil {
			return newError(ErrNotFound,
				"Failed to list principals for thing %s because the thing does not exist in your account", thingName)
		}
		return nil
	}
	return r.listPairs(pairListing{kind: tokThingPrincipals, bucket: bucketThingPrincipals, owner: thingName,
		exists: exists, value: r.CertificateARN}, nextToken, maxResults)
}

// ListPrincipalThings pages the names of the things attached to a principal, by name.
// maxResults 0 means 25; at most 250.
func (r *Registry) ListPrincipalThings(principal, nextToken string, maxResults int) ([]string, string, error) {
	id, err := r.principalCertID(principal, "principal")
	if err != nil {
		return nil, "", err
	}
	exists := func(tx *bbolt.Tx) error { return certExists(tx, id, "principal") }
	return r.listPairs(pairListing{kind: tokPrincipalThings, bucket: bucketPrincipalThings, owner: id,
		exists: exists, value: func(s string) string { return s }}, nextToken, maxResults)
}

// pairListing describes a paged listing of the pair keys (owner, value) of one owner.
type pairListing struct {
	kind   byte                     // token kind, so a token of one listing cannot resume another
	bucket []byte                   // bucket of pair keys
	owner  string                   // the first half of the keys listed
	exists func(tx *bbolt.Tx) error // the owner's existence check
	value  func(second string) string
}

// listPairs pages the second halves of an owner's pair keys, in key order: listTypedPairs
// without a type filter, names only.
func (r *Registry) listPairs(l pairListing, nextToken string, maxResults int) ([]string, string, error) {
	pairs, next, err := r.listTypedPairs(l, "", nextToken, maxResults)
	if err != nil {
		return nil, "", err
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p.Name
	}
	return out, next, nil
}

// resumeKey checks that a token's key lies within this listing's prefix, so that a token of one
// thing's (or principal's) listing cannot resume another's.
func resumeKey(prefix, from []byte, param string) ([]byte, error) {
	if from != nil && !bytes.HasPrefix(from, prefix) {
		return nil, newError(ErrInvalidRequest, "Invalid %s: it was not returned for this listing", param)
	}
	return from, nil
}

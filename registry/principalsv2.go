package registry

import (
	"go.etcd.io/bbolt"
)

// Token kinds of the V2 principal listings (distinct from the V1 kinds, so a V1 token cannot
// resume a V2 listing, whose filter may skip keys).
const (
	tokThingPrincipalsV2 = 'H'
	tokPrincipalThingsV2 = 'R'
)

// PrincipalAttachment is one thing–principal attachment as the V2 listings report it: the
// other side of the pair and how it is attached.
type PrincipalAttachment struct {
	// Name is the principal's ARN (ListThingPrincipalsV2) or the thing's name
	// (ListPrincipalThingsV2).
	Name string
	Type ThingPrincipalType
}

// validPrincipalTypeFilter accepts "" (no filter) and the two attachment types.
func validPrincipalTypeFilter(typ ThingPrincipalType) error {
	switch typ {
	case "", ExclusiveThing, NonExclusiveThing:
		return nil
	}
	return newError(ErrInvalidRequest, "Invalid thingPrincipalType %q: it must be %s or %s", typ, ExclusiveThing, NonExclusiveThing)
}

// ListThingPrincipalsV2 pages the principals attached to a thing with their attachment types,
// keeping only those of type typ when typ is not empty. maxResults 0 means 25; at most 250.
func (r *Registry) ListThingPrincipalsV2(thingName string, typ ThingPrincipalType, nextToken string, maxResults int) ([]PrincipalAttachment, string, error) {
	if err := validThingName(thingName); err != nil {
		return nil, "", err
	}
	if err := validPrincipalTypeFilter(typ); err != nil {
		return nil, "", err
	}
	exists := func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketThings).Get([]byte(thingName)) == nil {
			return newError(ErrNotFound,
				"Failed to list principals for thing %s because the thing does not exist in your account", thingName)
		}
		return nil
	}
	return r.listTypedPairs(pairListing{kind: tokThingPrincipalsV2, bucket: bucketThingPrincipals, owner: thingName,
		exists: exists, value: r.CertificateARN}, typ, nextToken, maxResults)
}

// ListPrincipalThingsV2 pages the things attached to a principal with their attachment types,
// keeping only those of type typ when typ is not empty. maxResults 0 means 25; at most 250.
func (r *Registry) ListPrincipalThingsV2(principal string, typ ThingPrincipalType, nextToken string, maxResults int) ([]PrincipalAttachment, string, error) {
	if err := validPrincipalTypeFilter(typ); err != nil {
		return nil, "", err
	}
	id, err := r.principalCertID(principal, "principal")
	if err != nil {
		return nil, "", err
	}
	exists := func(tx *bbolt.Tx) error { return certExists(tx, id, "principal") }
	return r.listTypedPairs(pairListing{kind: tokPrincipalThingsV2, bucket: bucketPrincipalThings, owner: id,
		exists: exists, value: func(s string) string { return s }}, typ, nextToken, maxResults)
}

// listTypedPairs pages an owner's pairs with the attachment type each key stores, skipping the
// pairs of another type than typ (when typ is set) before they count towards the page.
func (r *Registry) listTypedPairs(l pairListing, typ ThingPrincipalType, nextToken string, maxResults int) ([]PrincipalAttachment, string, error) {
	size, err := pageSize(maxResults, defaultPage, "maxResults")
	if err != nil {
		return nil, "", err
	}
	from, err := decodeToken(l.kind, nextToken, "nextToken")
	if err != nil {
		return nil, "", err
	}
	prefix := pairPrefix(l.owner)
	if from, err = resumeKey(prefix, from, "nextToken"); err != nil {
		return nil, "", err
	}
	var (
		out []PrincipalAttachment
		p   = pager{size: size}
	)
	err = r.view(func(tx *bbolt.Tx) error {
		if err := l.exists(tx); err != nil {
			return err
		}
		return walk(tx.Bucket(l.bucket), prefix, from, true, func(k, v []byte) (bool, error) {
			t := ThingPrincipalType(v)
			if t == "" { // attachments stored before types were recorded
				t = NonExclusiveThing
			}
			if typ != "" && t != typ {
				return true, nil
			}
			if !p.take(k) {
				return false, nil
			}
			out = append(out, PrincipalAttachment{Name: l.value(secondOf(k, prefix)), Type: t})
			return true, nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	return out, p.token(l.kind), nil
}

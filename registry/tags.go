package registry

import (
	"maps"
	"regexp"
	"slices"
	"strings"

	"go.etcd.io/bbolt"
)

// Tag is one key/value tag of a resource.
type Tag struct {
	Key   string
	Value string
}

// Tag rules of the AWS IoT model, and the AWS-wide quota of tags per resource.
var tagKeyRE = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

const (
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
	maxTagsPerResource = 50
)

// tagMap checks tags and returns them as a map (a key given twice keeps its last value).
func tagMap(tags []Tag) (map[string]string, error) {
	if len(tags) == 0 {
		return nil, nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		if err := validTagKey(t.Key); err != nil {
			return nil, err
		}
		if len(t.Value) > maxTagValueLen {
			return nil, newError(ErrInvalidRequest, "Invalid value of tag %q: %d characters, at most %d are allowed", t.Key, len(t.Value), maxTagValueLen)
		}
		m[t.Key] = t.Value
	}
	if len(m) > maxTagsPerResource {
		return nil, newError(ErrLimitExceeded, "A resource can have at most %d tags (got %d)", maxTagsPerResource, len(m))
	}
	return m, nil
}

// validTagKey applies the model's tag key rule; the aws: prefix is reserved for AWS.
func validTagKey(k string) error {
	if len(k) < 1 || len(k) > maxTagKeyLen || !tagKeyRE.MatchString(k) {
		return newError(ErrInvalidRequest,
			"Invalid tag key %q: it must be 1-128 letters, digits, spaces and _.:/=+-@", k)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return newError(ErrInvalidRequest, "Invalid tag key %q: the aws: prefix is reserved", k)
	}
	return nil
}

// getTags reads a resource's tags (nil when it has none).
func getTags(tx *bbolt.Tx, arn string) (map[string]string, error) {
	var m map[string]string
	_, err := getJSON(tx.Bucket(bucketTags), arn, &m)
	return m, err
}

// putTags adds tags to a resource's tags, replacing the values of keys it already has.
func putTags(tx *bbolt.Tx, arn string, tags map[string]string) error {
	if len(tags) == 0 {
		return nil
	}
	m, err := getTags(tx, arn)
	if err != nil {
		return err
	}
	if m == nil {
		m = make(map[string]string, len(tags))
	}
	maps.Copy(m, tags)
	if len(m) > maxTagsPerResource {
		return newError(ErrLimitExceeded, "A resource can have at most %d tags; %s would have %d", maxTagsPerResource, arn, len(m))
	}
	return putJSON(tx.Bucket(bucketTags), arn, m)
}

// deleteTags forgets the tags of a deleted resource.
func deleteTags(tx *bbolt.Tx, arn string) error { return delKey(tx.Bucket(bucketTags), []byte(arn)) }

// taggedResource resolves a resource ARN given to the tagging operations to the canonical ARN its
// tags are stored under, checking that the resource exists. The taggable resources the emulator
// has are thing groups, thing types, policies and CA certificates. Things and certificates are
// not taggable in AWS (CreateThing and the certificate operations take no tags), so their ARNs
// are invalid requests; other AWS resource types do not exist here (ErrNotFound).
func (r *Registry) taggedResource(tx *bbolt.Tx, arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return "", newError(ErrInvalidRequest, "Invalid resourceArn %q: not an AWS IoT ARN", arn)
	}
	typ, name, ok := strings.Cut(parts[5], "/")
	if !ok || name == "" {
		return "", newError(ErrInvalidRequest, "Invalid resourceArn %q: no resource type and name", arn)
	}
	switch typ {
	case "thing", "cert":
		return "", newError(ErrInvalidRequest, "Resources of type %s cannot be tagged", typ)
	case "thinggroup", "thingtype", "policy", "cacert", "rolealias", "billinggroup":
	default:
		return "", newError(ErrNotFound, "The resource %s does not exist: iotcore-local has no %s resources", arn, typ)
	}
	if parts[1] != "aws" || parts[3] != r.region || parts[4] != r.acct {
		return "", newError(ErrNotFound, "The resource %s does not exist in region %s, account %s", arn, r.region, r.acct)
	}
	switch typ {
	case "thinggroup":
		g, err := getGroup(tx, name)
		return g.ARN, err
	case "thingtype":
		t, err := getThingType(tx, name)
		return t.ARN, err
	case "policy":
		p, err := getPolicy(tx, name)
		return p.ARN, err
	case "rolealias":
		a, err := getRoleAlias(tx, name)
		return a.ARN, err
	case "billinggroup":
		g, err := getBillingGroup(tx, name)
		return g.ARN, err
	default:
		id, err := certID(name)
		if err != nil {
			return "", err
		}
		ca, err := getCA(tx, id)
		return ca.ARN, err
	}
}

// TagResource adds tags to a resource or changes their values. A resource has at most 50 tags
// (ErrLimitExceeded).
func (r *Registry) TagResource(arn string, tags []Tag) error {
	if len(tags) == 0 {
		return newError(ErrInvalidRequest, "tags: at least one tag is required")
	}
	m, err := tagMap(tags)
	if err != nil {
		return err
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		key, err := r.taggedResource(tx, arn)
		if err != nil {
			return err
		}
		return putTags(tx, key, m)
	})
}

// UntagResource removes tags by key; keys the resource does not have are ignored.
func (r *Registry) UntagResource(arn string, keys []string) error {
	if len(keys) == 0 {
		return newError(ErrInvalidRequest, "tagKeys: at least one key is required")
	}
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		key, err := r.taggedResource(tx, arn)
		if err != nil {
			return err
		}
		m, err := getTags(tx, key)
		if err != nil || m == nil {
			return err
		}
		for _, k := range keys {
			delete(m, k)
		}
		if len(m) == 0 {
			return deleteTags(tx, key)
		}
		return putJSON(tx.Bucket(bucketTags), key, m)
	})
}

// ListTagsForResource pages a resource's tags by key (250 a page; a resource has at most 50, so
// there is one page in practice).
func (r *Registry) ListTagsForResource(arn, nextToken string) ([]Tag, string, error) {
	var (
		out  []Tag
		next string
	)
	err := r.view(func(tx *bbolt.Tx) error {
		key, err := r.taggedResource(tx, arn)
		if err != nil {
			return err
		}
		m, err := getTags(tx, key)
		if err != nil {
			return err
		}
		page, tok, err := pageNames(slices.Collect(maps.Keys(m)), tokTags, nextToken, maxPage, maxPage)
		if err != nil {
			return err
		}
		next = tok
		for _, k := range page {
			out = append(out, Tag{Key: k, Value: m[k]})
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

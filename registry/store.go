package registry

import (
	"encoding/json"
	"fmt"

	"go.etcd.io/bbolt"
)

// The bbolt buckets. Attachments are kept in both directions so that each lookup is a prefix scan;
// composite keys join their parts with a NUL byte, which no valid name or id contains. A policy
// target key is a certificate id or "thinggroup/" + a thing group name (see groupTargetKey).
var (
	bucketMeta            = []byte("meta")
	bucketThings          = []byte("things")               // thing name -> Thing
	bucketCerts           = []byte("certificates")         // certificate id -> Certificate
	bucketCertsByDate     = []byte("certificatesByDate")   // creation time (8 bytes) + id -> nothing
	bucketPolicies        = []byte("policies")             // policy name -> Policy
	bucketPolicyTargets   = []byte("policyTargets")        // policy name NUL target key -> nothing
	bucketTargetPolicies  = []byte("targetPolicies")       // target key NUL policy name -> nothing
	bucketThingPrincipals = []byte("thingPrincipals")      // thing name NUL certificate id -> ThingPrincipalType
	bucketPrincipalThings = []byte("principalThings")      // certificate id NUL thing name -> ThingPrincipalType
	bucketPolicyVersions  = []byte("policyVersions")       // policy name NUL version (8 bytes) -> storedVersion
	bucketPolicyVersionNo = []byte("policyVersionNo")      // policy name -> last version number issued (8 bytes)
	bucketThingTypes      = []byte("thingTypes")           // thing type name -> ThingType
	bucketTypeThings      = []byte("typeThings")           // thing type name NUL thing name -> nothing
	bucketThingGroups     = []byte("thingGroups")          // thing group name -> ThingGroup
	bucketGroupChildren   = []byte("groupChildren")        // parent group name NUL child group name -> nothing
	bucketGroupThings     = []byte("groupThings")          // group name NUL thing name -> membership id
	bucketThingGroupsOf   = []byte("thingGroupsOf")        // thing name NUL group name -> membership id
	bucketCACerts         = []byte("caCertificates")       // CA certificate id -> CACertificate
	bucketCACertsByDate   = []byte("caCertificatesByDate") // creation time (8 bytes) + id -> nothing
	bucketTags            = []byte("tags")                 // canonical resource ARN -> map of tags

	allBuckets = [][]byte{
		bucketMeta, bucketThings, bucketCerts, bucketCertsByDate, bucketPolicies,
		bucketPolicyTargets, bucketTargetPolicies, bucketThingPrincipals, bucketPrincipalThings,
		bucketPolicyVersions, bucketPolicyVersionNo, bucketThingTypes, bucketTypeThings,
		bucketThingGroups, bucketGroupChildren, bucketGroupThings, bucketThingGroupsOf,
		bucketCACerts, bucketCACertsByDate, bucketTags,
		// Created on open when missing, so older files need no upgrade.
		bucketRoleAliases, bucketBillingGroups, bucketBillingGroupThings, bucketThingBillingGroup, bucketSettings,
	}
)

// schemaVersion is the layout of the buckets above. A file written by a later layout is refused
// rather than misread; a file of an earlier layout is upgraded in place when opened.
//
// Layouts: "1" kept only each policy's current document; "2" adds the policy versions; "3" adds
// thing types (which things must now name), thing groups and their memberships, policies
// attached to thing groups (in the policy attachment buckets, under a "thinggroup/" key), CA
// certificates, tags, the registration code and the event configurations.
const schemaVersion = "3"

var keySchema = []byte("schema")

// initSchema creates the buckets of a new file, upgrades an earlier layout and refuses a later
// one. It runs in one write transaction, so an upgrade that fails leaves the file as it was.
func (r *Registry) initSchema(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := string(meta.Get(keySchema)); v {
	case "": // a new file
	case "1":
		if err := addPolicyVersions(tx); err != nil {
			return fmt.Errorf("upgrade from schema version 1: %w", err)
		}
		fallthrough
	case "2":
		if err := r.addThingTypes(tx); err != nil {
			return fmt.Errorf("upgrade from schema version %s: %w", v, err)
		}
	case schemaVersion:
		return nil
	default:
		return fmt.Errorf("the file has schema version %q; this build understands %q", v, schemaVersion)
	}
	if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
		return fmt.Errorf("write schema version: %w", err)
	}
	return nil
}

// getJSON decodes the value stored under key into v; it reports false when the key is absent.
func getJSON(b *bbolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := decodeJSON([]byte(key), data, v); err != nil {
		return false, err
	}
	return true, nil
}

// getRecord reads a record by key, or returns ErrNotFound with the message notFound (a format
// taking the key).
func getRecord[T any](tx *bbolt.Tx, bucket []byte, key, notFound string) (T, error) {
	var v T
	found, err := getJSON(tx.Bucket(bucket), key, &v)
	if err != nil {
		return v, err
	}
	if !found {
		var zero T
		return zero, newError(ErrNotFound, notFound, key)
	}
	return v, nil
}

// decodeJSON decodes a stored value; a failure means the file holds something this build did not
// write, so the error names the key.
func decodeJSON(key, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("registry: decode stored value of %q: %w", key, err)
	}
	return nil
}

// putJSON stores v under key.
func putJSON(b *bbolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("registry: encode %s: %w", key, err)
	}
	if err := b.Put([]byte(key), data); err != nil {
		return fmt.Errorf("registry: store %s: %w", key, err)
	}
	return nil
}

// pairKey joins two key parts with the NUL separator.
func pairKey(a, b string) []byte {
	k := make([]byte, 0, len(a)+1+len(b))
	k = append(k, a...)
	k = append(k, 0)
	return append(k, b...)
}

// pairPrefix is the prefix of every pairKey whose first part is a.
func pairPrefix(a string) []byte { return pairKey(a, "") }

// secondOf returns the part of a pairKey after the separator.
func secondOf(k, prefix []byte) string { return string(k[len(prefix):]) }

// putKey and delKey write and remove an index or attachment key, wrapping storage errors.
func putKey(b *bbolt.Bucket, k, v []byte) error {
	if err := b.Put(k, v); err != nil {
		return fmt.Errorf("registry: store key %q: %w", k, err)
	}
	return nil
}

func delKey(b *bbolt.Bucket, k []byte) error {
	if err := b.Delete(k); err != nil {
		return fmt.Errorf("registry: delete key %q: %w", k, err)
	}
	return nil
}

// hasPrefix reports whether any key of b starts with prefix.
func hasPrefix(b *bbolt.Bucket, prefix []byte) bool {
	k, _ := b.Cursor().Seek(prefix)
	return k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix)
}

package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"go.etcd.io/bbolt"
)

// The bbolt layout. Keys are the thing name, a NUL byte (which no valid name contains) and the
// shadow name ("" for the classic shadow), so a thing's shadows are one prefix scan and sort by
// name. A shadow is in exactly one of shadows (it exists) and tombstones (it was deleted; only its
// version is kept).
var (
	bucketMeta       = []byte("meta")
	bucketShadows    = []byte("shadows")    // key -> stored document
	bucketTombstones = []byte("tombstones") // key -> {"version":V,"deletedAt":T}

	allBuckets = [][]byte{bucketMeta, bucketShadows, bucketTombstones}
	keySchema  = []byte("schema")
)

// schemaVersion is the layout above; a file of another layout is refused rather than misread.
const schemaVersion = "1"

// initSchema creates the buckets of a new file and checks the layout of an existing one.
func initSchema(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := meta.Get(keySchema); {
	case v == nil:
		if err := meta.Put(keySchema, []byte(schemaVersion)); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("the file has shadow schema version %q; this build understands %q", v, schemaVersion)
	}
	return nil
}

// storeKey is the bbolt key of a shadow.
func storeKey(k Key) []byte {
	b := make([]byte, 0, len(k.Thing)+1+len(k.Name))
	b = append(b, k.Thing...)
	b = append(b, 0)
	return append(b, k.Name...)
}

// thingPrefix is the prefix of the keys of all shadows of a thing.
func thingPrefix(thing string) []byte { return storeKey(Key{Thing: thing}) }

// load reads a shadow: the document if it exists, else its tombstone if it was deleted.
func load(tx *bbolt.Tx, key Key) (*document, *tombstone, error) {
	k := storeKey(key)
	if data := tx.Bucket(bucketShadows).Get(k); data != nil {
		d, err := decodeDocument(data)
		if err != nil {
			return nil, nil, fmt.Errorf("shadow: stored document of %q/%q: %w", key.Thing, key.Name, err)
		}
		return d, nil, nil
	}
	if data := tx.Bucket(bucketTombstones).Get(k); data != nil {
		t, err := decodeTombstone(data)
		if err != nil {
			return nil, nil, fmt.Errorf("shadow: stored tombstone of %q/%q: %w", key.Thing, key.Name, err)
		}
		return nil, t, nil
	}
	return nil, nil, nil
}

// save stores a shadow's document and forgets its tombstone.
func save(tx *bbolt.Tx, key Key, d *document) error {
	k := storeKey(key)
	if err := tx.Bucket(bucketShadows).Put(k, encodeDocument(d)); err != nil {
		return fmt.Errorf("shadow: store %q/%q: %w", key.Thing, key.Name, err)
	}
	if err := tx.Bucket(bucketTombstones).Delete(k); err != nil {
		return fmt.Errorf("shadow: forget tombstone of %q/%q: %w", key.Thing, key.Name, err)
	}
	return nil
}

// bury replaces a shadow's document by its tombstone.
func bury(tx *bbolt.Tx, key Key, t *tombstone) error {
	k := storeKey(key)
	if err := tx.Bucket(bucketShadows).Delete(k); err != nil {
		return fmt.Errorf("shadow: delete %q/%q: %w", key.Thing, key.Name, err)
	}
	data := encodeJSON(obj{{"version", t.Version}, {"deletedAt", t.DeletedAt}})
	if err := tx.Bucket(bucketTombstones).Put(k, data); err != nil {
		return fmt.Errorf("shadow: store tombstone of %q/%q: %w", key.Thing, key.Name, err)
	}
	return nil
}

// encodeDocument is the stored form of a document; absent sections are left out.
func encodeDocument(d *document) []byte {
	o := obj{{"version", d.Version}}
	for _, m := range []member{
		{"desired", d.Desired}, {"reported", d.Reported},
		{"metaDesired", d.MetaDesired}, {"metaReported", d.MetaReported},
	} {
		if sec, _ := m.val.(map[string]any); sec != nil {
			o = append(o, m)
		}
	}
	return encodeJSON(o)
}

// decodeDocument reads a stored document.
func decodeDocument(data []byte) (*document, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	d := &document{}
	if d.Version, err = storedInt(m, "version"); err != nil {
		return nil, err
	}
	d.Desired, _ = m["desired"].(map[string]any)
	d.Reported, _ = m["reported"].(map[string]any)
	d.MetaDesired, _ = m["metaDesired"].(map[string]any)
	d.MetaReported, _ = m["metaReported"].(map[string]any)
	if d.Desired != nil && d.MetaDesired == nil {
		d.MetaDesired = map[string]any{}
	}
	if d.Reported != nil && d.MetaReported == nil {
		d.MetaReported = map[string]any{}
	}
	return d, nil
}

// decodeTombstone reads a stored tombstone.
func decodeTombstone(data []byte) (*tombstone, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	t := &tombstone{}
	if t.Version, err = storedInt(m, "version"); err != nil {
		return nil, err
	}
	if t.DeletedAt, err = storedInt(m, "deletedAt"); err != nil {
		return nil, err
	}
	return t, nil
}

// storedInt reads an integer member of a stored object.
func storedInt(m map[string]any, name string) (int64, error) {
	n, ok := m[name].(json.Number)
	if !ok {
		return 0, fmt.Errorf("member %q is missing or not a number", name)
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("member %q: %w", name, err)
	}
	return v, nil
}

// namedShadows returns up to limit names of the thing's existing named shadows that sort after
// the name after ("" for the first page), and whether more follow.
func namedShadows(tx *bbolt.Tx, thing, after string, limit int) ([]string, bool) {
	prefix := thingPrefix(thing)
	c := tx.Bucket(bucketShadows).Cursor()
	k, _ := c.Seek(append(bytes.Clone(prefix), after...))
	names := []string{}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		name := string(k[len(prefix):])
		if name == "" || name <= after {
			continue // the classic shadow is never listed; the token's own name was on the last page
		}
		if len(names) == limit {
			return names, true
		}
		names = append(names, name)
	}
	return names, false
}

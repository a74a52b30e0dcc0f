package registry

import "go.etcd.io/bbolt"

// bucketSettings holds account-wide configuration documents that belong to no resource: the
// logging options, the fleet indexing configuration. Each is one JSON value under its key.
var bucketSettings = []byte("settings")

// GetSetting decodes the account setting stored under key into v; found is false (and v
// untouched) when it was never set.
func (r *Registry) GetSetting(key string, v any) (found bool, err error) {
	err = r.view(func(tx *bbolt.Tx) error {
		found, err = getJSON(tx.Bucket(bucketSettings), key, v)
		return err
	})
	return found, err
}

// PutSetting stores v (as JSON) under key, replacing what was there.
func (r *Registry) PutSetting(key string, v any) error {
	return r.update(func(tx *bbolt.Tx, _ func(Event)) error {
		return putJSON(tx.Bucket(bucketSettings), key, v)
	})
}

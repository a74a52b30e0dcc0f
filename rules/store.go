package rules

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/iotcore-local/iotcore-local/internal/dbfile"
)

// The store keeps rules and topic rule destinations in one bbolt file, as JSON.
var (
	bucketRules        = []byte("rules")
	bucketDestinations = []byte("destinations")
)

type store struct{ db *bolt.DB }

func openStore(path string) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open rules store %s%s: %w", path, dbfile.OpenHint(err), err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRules, bucketDestinations} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("prepare rules store: %w", err)
	}
	return &store{db: db}, nil
}

func (s *store) put(bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), data) })
}

func (s *store) delete(bucket []byte, key string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(key)) })
}

// each calls f with every stored value of a bucket, in key order.
func (s *store) each(bucket []byte, f func(k string, data []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error { return f(string(k), v) })
	})
}

func (s *store) close() error { return s.db.Close() }

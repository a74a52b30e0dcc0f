package provisioning

import (
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// The bbolt layout of provisioning.db.
var (
	bucketMeta      = []byte("meta")
	bucketTemplates = []byte("templates") // template name -> storedTemplate
	bucketTokens    = []byte("tokens")    // ownership token -> storedToken
	bucketClaims    = []byte("claims")    // claim certificate id -> storedClaim
	allBuckets      = [][]byte{bucketMeta, bucketTemplates, bucketTokens, bucketClaims}
	keySchema       = []byte("schema")
)

const schemaVersion = "1"

// storedTemplate is a template with all its versions.
type storedTemplate struct {
	Template
	Versions    []Version `json:"versions"`
	LastVersion int       `json:"lastVersion"` // the last version id issued; ids are never reused
}

// storedToken is what a certificate ownership token stands for.
type storedToken struct {
	CertificateID string    `json:"certificateId"`
	Expires       time.Time `json:"expires"`
}

// storedClaim is a temporary claim certificate made by CreateProvisioningClaim.
type storedClaim struct {
	TemplateName string    `json:"templateName"`
	Expires      time.Time `json:"expires"`
}

func initSchema(tx *bbolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	switch v := meta.Get(keySchema); {
	case v == nil:
		return meta.Put(keySchema, []byte(schemaVersion))
	case string(v) != schemaVersion:
		return fmt.Errorf("the file has provisioning schema version %q; this build understands %q", v, schemaVersion)
	}
	return nil
}

func getJSON(b *bbolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("provisioning: decode stored value of %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("provisioning: encode %q: %w", key, err)
	}
	if err := b.Put([]byte(key), data); err != nil {
		return fmt.Errorf("provisioning: store %q: %w", key, err)
	}
	return nil
}

func jsonUnmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("provisioning: decode stored value: %w", err)
	}
	return nil
}

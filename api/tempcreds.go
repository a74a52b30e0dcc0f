package api

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"sync"
	"time"
)

// TemporaryCredentials is the store of the temporary AWS credentials the emulator's credentials
// provider has issued (GET /role-aliases/{alias}/credentials): access key ID → secret, session
// token and expiry. The SigV4 check accepts a request signed with one of them, carrying its
// session token, until it expires, so that a device can call iot-data with the credentials it
// got for its certificate. The store is in memory: credentials do not outlive the emulator,
// as they would not outlive their expiry on AWS. The zero value is not usable; use
// NewTemporaryCredentials. It is safe for concurrent use.
type TemporaryCredentials struct {
	mu   sync.Mutex
	keys map[string]temporaryKey
	now  func() time.Time
}

// temporaryKey is one issued credential.
type temporaryKey struct {
	secret, token string
	expires       time.Time
	roleAlias     string
	certificateID string
}

// IssuedCredential is what the credentials provider hands a device.
type IssuedCredential struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	Expiration                                 time.Time
}

// maxTemporaryKeys bounds the store: when full, expired keys are dropped first, then the ones
// closest to expiry.
const maxTemporaryKeys = 100_000

// NewTemporaryCredentials returns an empty store; now is its clock (nil: time.Now).
func NewTemporaryCredentials(now func() time.Time) *TemporaryCredentials {
	if now == nil {
		now = time.Now
	}
	return &TemporaryCredentials{keys: map[string]temporaryKey{}, now: now}
}

// Issue makes a new credential valid for d, for the record naming the role alias and the
// certificate that obtained it. Access key IDs start with ASIA, as AWS's temporary keys do.
func (t *TemporaryCredentials) Issue(d time.Duration, roleAlias, certificateID string) IssuedCredential {
	b32 := base32.StdEncoding.WithPadding(base32.NoPadding)
	key := "ASIA" + b32.EncodeToString(randomBytes(10)) // 16 characters: 20 in all, like AWS's
	secret := base64.StdEncoding.EncodeToString(randomBytes(30))
	token := base64.StdEncoding.EncodeToString(randomBytes(96))
	now := t.now()
	exp := now.Add(d).UTC().Truncate(time.Second)
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.keys) >= maxTemporaryKeys {
		t.prune(now)
	}
	t.keys[key] = temporaryKey{secret: secret, token: token, expires: exp, roleAlias: roleAlias, certificateID: certificateID}
	return IssuedCredential{AccessKeyID: key, SecretAccessKey: secret, SessionToken: token, Expiration: exp}
}

// prune drops the expired keys and, if the store is still full, the one expiring first. Called
// with mu held.
func (t *TemporaryCredentials) prune(now time.Time) {
	var (
		oldest    string
		oldestExp time.Time
	)
	for k, v := range t.keys {
		if !v.expires.After(now) {
			delete(t.keys, k)
			continue
		}
		if oldest == "" || v.expires.Before(oldestExp) {
			oldest, oldestExp = k, v.expires
		}
	}
	if len(t.keys) >= maxTemporaryKeys && oldest != "" {
		delete(t.keys, oldest)
	}
}

// lookup returns the issued key with that access key ID; expired keys are removed and
// reported as expired.
func (t *TemporaryCredentials) lookup(accessKey string) (k temporaryKey, found, expired bool) {
	if t == nil {
		return temporaryKey{}, false, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	k, found = t.keys[accessKey]
	if found && !k.expires.After(t.now()) {
		delete(t.keys, accessKey)
		return temporaryKey{}, true, true
	}
	return k, found, false
}

// randomBytes returns n bytes from crypto/rand (which never fails on supported platforms).
func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

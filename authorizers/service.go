package authorizers

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"sync"
	"time"

	"go.etcd.io/bbolt"

	"github.com/iotcore-local/iotcore-local/functions"
)

// Limits and patterns of the control plane, from the iot service model.
const (
	maxAuthorizers     = 100 // AWS's default quota of authorizers per account and region
	maxFunctionARN     = 2048
	maxPublicKeyLength = 5120
	minRSABits         = 2048
)

var (
	namePattern     = regexp.MustCompile(`^[\w=,@-]{1,128}$`)
	tokenKeyPattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	keyNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9:_-]{1,128}$`)
)

var (
	bucketAuthorizers = []byte("authorizers")
	bucketSettings    = []byte("settings")
	keyDefault        = []byte("default-authorizer")
)

// Options configure a Service.
type Options struct {
	Region, Account string
	// Invoker calls the authorizer functions.
	Invoker functions.Invoker
	// Timeout bounds one call of a function; 0 is AWS's 5 s.
	Timeout time.Duration
	// Cache keeps answers for their refreshAfterInSeconds, keyed by everything the event
	// carries but the connection id, so a fleet reconnecting with the same token costs one call.
	Cache bool
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service holds the authorizers and runs custom authentication.
type Service struct {
	opts Options
	db   *bbolt.DB
	log  *slog.Logger

	mu     sync.RWMutex
	byName map[string]*Authorizer // every authorizer, read on each authentication
	def    string                 // the default authorizer's name, "" for none
	keys   map[string][]*rsa.PublicKey

	cache answerCache
}

// Open opens (or creates) the authorizer store at path.
func Open(path string, opts Options) (*Service, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open authorizer store %s: %w", path, err)
	}
	s := &Service{opts: opts, db: db, log: opts.Logger, byName: map[string]*Authorizer{}, keys: map[string][]*rsa.PublicKey{}}
	s.cache.entries = map[string]cacheEntry{}
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketAuthorizers)
		if err != nil {
			return err
		}
		st, err := tx.CreateBucketIfNotExists(bucketSettings)
		if err != nil {
			return err
		}
		s.def = string(st.Get(keyDefault))
		return b.ForEach(func(k, v []byte) error {
			var a Authorizer
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("authorizer %s: %w", k, err)
			}
			keys, err := parsePublicKeys(a.TokenSigningPublicKeys)
			if err != nil {
				return fmt.Errorf("authorizer %s: %w", k, err)
			}
			s.byName[a.Name], s.keys[a.Name] = &a, keys
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read authorizer store: %w", err)
	}
	return s, nil
}

// Close closes the store.
func (s *Service) Close() error { return s.db.Close() }

func (s *Service) arn(name string) string {
	return fmt.Sprintf("arn:aws:iot:%s:%s:authorizer/%s", s.opts.Region, s.opts.Account, name)
}

// parsePublicKeys parses the PEM public keys of tokenSigningPublicKeys: RSA, at least 2048 bits.
func parsePublicKeys(m map[string]string) ([]*rsa.PublicKey, error) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []*rsa.PublicKey
	for _, name := range names {
		v := m[name]
		if !keyNamePattern.MatchString(name) {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys: key name %q must match [a-zA-Z0-9:_-]{1,128}", name)
		}
		if len(v) > maxPublicKeyLength {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys.%s: longer than %d characters", name, maxPublicKeyLength)
		}
		block, _ := pem.Decode([]byte(v))
		if block == nil {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys.%s: not a PEM public key", name)
		}
		var pub any
		var err error
		switch block.Type {
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		}
		if err != nil {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys.%s: %v", name, err)
		}
		rk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys.%s: an RSA public key is required, got %T", name, pub)
		}
		if rk.N.BitLen() < minRSABits {
			return nil, newError(ErrInvalidRequest, "tokenSigningPublicKeys.%s: the key has %d bits; at least %d are required", name, rk.N.BitLen(), minRSABits)
		}
		out = append(out, rk)
	}
	return out, nil
}

func checkStatus(st string) error {
	if st != StatusActive && st != StatusInactive {
		return newError(ErrInvalidRequest, "status: must be ACTIVE or INACTIVE, got %q", st)
	}
	return nil
}

func checkFunctionARN(arn string) error {
	if arn == "" {
		return newError(ErrInvalidRequest, "authorizerFunctionArn: required")
	}
	if len(arn) > maxFunctionARN {
		return newError(ErrInvalidRequest, "authorizerFunctionArn: longer than %d characters", maxFunctionARN)
	}
	return nil
}

// checkSigning enforces: with signing on, tokenKeyName and tokenSigningPublicKeys are required.
func checkSigning(a *Authorizer) error {
	if a.TokenKeyName != "" && !tokenKeyPattern.MatchString(a.TokenKeyName) {
		return newError(ErrInvalidRequest, "tokenKeyName: %q must match [a-zA-Z0-9_-]{1,128}", a.TokenKeyName)
	}
	if a.SigningDisabled {
		return nil
	}
	if a.TokenKeyName == "" || len(a.TokenSigningPublicKeys) == 0 {
		return newError(ErrInvalidRequest, "tokenKeyName and tokenSigningPublicKeys are required unless signingDisabled is true")
	}
	return nil
}

func (s *Service) put(tx *bbolt.Tx, a *Authorizer) error {
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketAuthorizers).Put([]byte(a.Name), v)
}

// Create is CreateAuthorizer.
func (s *Service) Create(in CreateInput) (Authorizer, error) {
	if !namePattern.MatchString(in.Name) {
		return Authorizer{}, newError(ErrInvalidRequest, "authorizerName: %q must match [\\w=,@-]{1,128}", in.Name)
	}
	if err := checkFunctionARN(in.FunctionARN); err != nil {
		return Authorizer{}, err
	}
	if in.Status == "" {
		in.Status = StatusActive
	}
	if err := checkStatus(in.Status); err != nil {
		return Authorizer{}, err
	}
	now := s.opts.Now().UTC().Truncate(time.Millisecond)
	a := &Authorizer{Name: in.Name, ARN: s.arn(in.Name), FunctionARN: in.FunctionARN, TokenKeyName: in.TokenKeyName,
		TokenSigningPublicKeys: in.TokenSigningPublicKeys, Status: in.Status, SigningDisabled: in.SigningDisabled,
		EnableCachingForHTTP: in.EnableCachingForHTTP, CreationDate: now, LastModifiedDate: now, Tags: in.Tags}
	if err := checkSigning(a); err != nil {
		return Authorizer{}, err
	}
	keys, err := parsePublicKeys(a.TokenSigningPublicKeys)
	if err != nil {
		return Authorizer{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[a.Name]; ok {
		return Authorizer{}, newError(ErrAlreadyExists, "Authorizer %s already exists", a.Name)
	}
	if len(s.byName) >= maxAuthorizers {
		return Authorizer{}, newError(ErrLimitExceeded, "at most %d authorizers may exist", maxAuthorizers)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return s.put(tx, a) }); err != nil {
		return Authorizer{}, fmt.Errorf("store authorizer %s: %w", a.Name, err)
	}
	s.byName[a.Name], s.keys[a.Name] = a, keys
	return *a, nil
}

// Describe is DescribeAuthorizer.
func (s *Service) Describe(name string) (Authorizer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a, ok := s.byName[name]
	if !ok {
		return Authorizer{}, newError(ErrNotFound, "Authorizer %s does not exist", name)
	}
	return *a, nil
}

// Update is UpdateAuthorizer.
func (s *Service) Update(in UpdateInput) (Authorizer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.byName[in.Name]
	if !ok {
		return Authorizer{}, newError(ErrNotFound, "Authorizer %s does not exist", in.Name)
	}
	a := *cur
	if in.FunctionARN != nil {
		if err := checkFunctionARN(*in.FunctionARN); err != nil {
			return Authorizer{}, err
		}
		a.FunctionARN = *in.FunctionARN
	}
	if in.TokenKeyName != nil {
		a.TokenKeyName = *in.TokenKeyName
	}
	if in.TokenSigningPublicKeys != nil {
		a.TokenSigningPublicKeys = in.TokenSigningPublicKeys
	}
	if in.Status != nil {
		if err := checkStatus(*in.Status); err != nil {
			return Authorizer{}, err
		}
		a.Status = *in.Status
	}
	if in.EnableCachingForHTTP != nil {
		a.EnableCachingForHTTP = *in.EnableCachingForHTTP
	}
	if err := checkSigning(&a); err != nil {
		return Authorizer{}, err
	}
	keys, err := parsePublicKeys(a.TokenSigningPublicKeys)
	if err != nil {
		return Authorizer{}, err
	}
	a.LastModifiedDate = s.opts.Now().UTC().Truncate(time.Millisecond)
	if err := s.db.Update(func(tx *bbolt.Tx) error { return s.put(tx, &a) }); err != nil {
		return Authorizer{}, fmt.Errorf("store authorizer %s: %w", a.Name, err)
	}
	s.byName[a.Name], s.keys[a.Name] = &a, keys
	s.cache.dropAuthorizer(a.Name)
	return a, nil
}

// Delete is DeleteAuthorizer: an ACTIVE authorizer cannot be deleted (set it INACTIVE first), as
// on AWS; nor can the default authorizer.
func (s *Service) Delete(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byName[name]
	if !ok {
		return newError(ErrNotFound, "Authorizer %s does not exist", name)
	}
	if a.Status == StatusActive {
		return newError(ErrDeleteConflict, "Authorizer %s is ACTIVE; update its status to INACTIVE before deleting it", name)
	}
	if s.def == name {
		return newError(ErrDeleteConflict, "Authorizer %s is the default authorizer; set another default before deleting it", name)
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketAuthorizers).Delete([]byte(name)) }); err != nil {
		return fmt.Errorf("delete authorizer %s: %w", name, err)
	}
	delete(s.byName, name)
	delete(s.keys, name)
	s.cache.dropAuthorizer(name)
	return nil
}

// List is ListAuthorizers: by name, from after marker, at most pageSize, optionally one status.
// It returns the page and the next marker ("" at the end).
func (s *Service) List(status, marker string, pageSize int, ascending bool) ([]Authorizer, string, error) {
	if status != "" {
		if err := checkStatus(status); err != nil {
			return nil, "", err
		}
	}
	s.mu.RLock()
	all := make([]Authorizer, 0, len(s.byName))
	for _, a := range s.byName {
		if status == "" || a.Status == status {
			all = append(all, *a)
		}
	}
	s.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool {
		if ascending {
			return all[i].Name < all[j].Name
		}
		return all[i].Name > all[j].Name
	})
	start := 0
	if marker != "" {
		start = len(all)
		for i, a := range all {
			if (ascending && a.Name > marker) || (!ascending && a.Name < marker) {
				start = i
				break
			}
		}
	}
	end := min(start+pageSize, len(all))
	next := ""
	if end < len(all) {
		next = all[end-1].Name
	}
	return all[start:end], next, nil
}

// SetDefault is SetDefaultAuthorizer. Setting the authorizer that already is the default is a
// ResourceAlreadyExistsException, as the model lists.
func (s *Service) SetDefault(name string) (Authorizer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byName[name]
	if !ok {
		return Authorizer{}, newError(ErrNotFound, "Authorizer %s does not exist", name)
	}
	if s.def == name {
		return Authorizer{}, newError(ErrAlreadyExists, "Authorizer %s is already the default authorizer", name)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketSettings).Put(keyDefault, []byte(name)) })
	if err != nil {
		return Authorizer{}, fmt.Errorf("store default authorizer: %w", err)
	}
	s.def = name
	return *a, nil
}

// DescribeDefault is DescribeDefaultAuthorizer.
func (s *Service) DescribeDefault() (Authorizer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a, ok := s.byName[s.def]; ok {
		return *a, nil
	}
	return Authorizer{}, newError(ErrNotFound, "No default authorizer is set")
}

// lookup returns the authorizer to run for a request naming name ("" for the default), and its keys.
func (s *Service) lookup(name string) (*Authorizer, []*rsa.PublicKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	named := name != ""
	if !named {
		name = s.def
	}
	a, ok := s.byName[name]
	switch {
	case !named && name == "":
		return nil, nil, &Refusal{Cause: ErrNoAuthorizer, Detail: "the client named no authorizer (x-amz-customauthorizer-name) and no default authorizer is set"}
	case !ok:
		return nil, nil, &Refusal{Cause: ErrNoAuthorizer, Authorizer: name, Detail: "no such authorizer"}
	case a.Status != StatusActive:
		return nil, nil, &Refusal{Cause: ErrNoAuthorizer, Authorizer: name, Detail: "the authorizer is INACTIVE"}
	}
	return a, s.keys[name], nil
}

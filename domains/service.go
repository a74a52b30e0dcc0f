package domains

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

var bucketDomains = []byte("domain-configurations")

// Options configure a Service.
type Options struct {
	Region, Account string
	// Endpoint is the default endpoint's host name: iot:Data-ATS's domainName.
	Endpoint string
	// AuthorizerExists reports whether a custom authorizer exists (authorizerConfig's check);
	// nil accepts every name.
	AuthorizerExists func(name string) bool
	// OnNames is told the domain names of every configuration (iot:Data-ATS's excepted) before a
	// change that alters them is committed, and at Open: the server certificate must cover them.
	// An error refuses the change.
	OnNames func(names []string) error
	// Now is the clock; nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Service holds the domain configurations.
type Service struct {
	opts Options
	db   *bbolt.DB
	log  *slog.Logger

	mu     sync.Mutex         // serialises changes
	byName map[string]*Config // every created configuration, and iot:Data-ATS
	// byDomain is an immutable snapshot (lowercase domainName → configuration) replaced on
	// every change, so that a handshake's Lookup takes no lock.
	byDomain atomic.Pointer[snapshot]
}

// snapshot is what Lookup reads: configurations by lowercase domain name, and iot:Data-ATS.
type snapshot struct {
	byDomain map[string]Config
	def      Config
	// configured: some configuration was created, or iot:Data-ATS's policy changed.
	configured bool
}

// Open opens (or creates) the domain configuration store at path.
func Open(path string, opts Options) (*Service, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open domain configuration store %s: %w", path, err)
	}
	s := &Service{opts: opts, db: db, log: opts.Logger, byName: map[string]*Config{}}
	def := s.defaultConfig()
	s.byName[DefaultName] = &def
	err = db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketDomains)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var c Config
			if err := json.Unmarshal(v, &c); err != nil {
				return fmt.Errorf("domain configuration %s: %w", k, err)
			}
			if c.Name == DefaultName { // only its TLS policy is stored
				s.byName[DefaultName].SecurityPolicy = c.SecurityPolicy
				return nil
			}
			s.byName[c.Name] = &c
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read domain configuration store: %w", err)
	}
	if opts.OnNames != nil {
		if err := opts.OnNames(s.namesLocked(nil)); err != nil {
			db.Close()
			return nil, fmt.Errorf("domain configurations: server certificate names: %w", err)
		}
	}
	s.publishLocked()
	return s, nil
}

// Close closes the store.
func (s *Service) Close() error { return s.db.Close() }

// defaultConfig is iot:Data-ATS as it is before any update.
func (s *Service) defaultConfig() Config {
	return Config{
		Name: DefaultName, ARN: s.arn(DefaultName, ""), DomainName: s.opts.Endpoint, DomainType: TypeEndpoint,
		ServiceType: "DATA", Status: StatusEnabled, SecurityPolicy: DefaultSecurityPolicy,
		AuthenticationType: AuthDefault, ApplicationProtocol: ProtocolDefault,
	}
}

func (s *Service) arn(name, suffix string) string {
	a := fmt.Sprintf("arn:aws:iot:%s:%s:domainconfiguration/%s", s.opts.Region, s.opts.Account, name)
	if suffix != "" {
		a += "/" + suffix
	}
	return a
}

// randomLower returns n random lowercase letters and digits.
func randomLower(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Create is CreateDomainConfiguration.
func (s *Service) Create(in CreateInput) (Config, error) {
	if !createNamePattern.MatchString(in.Name) {
		return Config{}, newError(ErrInvalidRequest, "domainConfigurationName: %q must be 1-128 characters of letters, digits, '_', '.' and '-'", in.Name)
	}
	if strings.HasPrefix(strings.ToLower(in.Name), "iot:") {
		return Config{}, newError(ErrInvalidRequest, "domainConfigurationName: names starting with IoT: are reserved")
	}
	c := Config{
		Name: in.Name, DomainName: in.DomainName, ServiceType: in.ServiceType, Status: StatusEnabled,
		ServerCertificateARNs: in.ServerCertificateARNs, ValidationCertificateARN: in.ValidationCertificateARN,
		AuthorizerConfig: in.AuthorizerConfig, SecurityPolicy: DefaultSecurityPolicy,
		ServerCertificateConfig: in.ServerCertificateConfig, AuthenticationType: in.AuthenticationType,
		ApplicationProtocol: in.ApplicationProtocol, LastStatusChangeDate: s.opts.Now().UTC(), Tags: in.Tags,
	}
	if in.SecurityPolicy != nil {
		c.SecurityPolicy = *in.SecurityPolicy
	}
	if in.ClientCertificateCallbackARN != nil {
		c.ClientCertificateCallbackARN = *in.ClientCertificateCallbackARN
	}
	if c.ServiceType == "" {
		c.ServiceType = "DATA"
	}
	if c.AuthenticationType == "" {
		c.AuthenticationType = AuthDefault
	}
	if c.ApplicationProtocol == "" {
		c.ApplicationProtocol = ProtocolDefault
	}
	switch c.ServiceType {
	case "DATA":
	case "CREDENTIAL_PROVIDER", "JOBS":
		return Config{}, newError(ErrInvalidRequest, "serviceType: only DATA is supported")
	default:
		return Config{}, newError(ErrInvalidRequest, "serviceType: %q is not one of DATA, CREDENTIAL_PROVIDER, JOBS", c.ServiceType)
	}
	if len(c.ServerCertificateARNs) > 1 {
		return Config{}, newError(ErrInvalidRequest, "serverCertificateArns: at most 1 certificate")
	}
	for _, a := range append(slices.Clone(c.ServerCertificateARNs), c.ValidationCertificateARN) {
		if a != "" && !acmARNPattern.MatchString(a) {
			return Config{}, newError(ErrInvalidRequest, "certificate ARN %q is not an ACM certificate ARN", a)
		}
	}
	if c.DomainName == "" {
		if len(c.ServerCertificateARNs) > 0 {
			return Config{}, newError(ErrInvalidRequest, "domainName: required with serverCertificateArns")
		}
		c.DomainType = TypeAWSManaged
		c.DomainName = fmt.Sprintf("%s-ats.iot.%s.amazonaws.com", randomLower(20), s.opts.Region)
	} else {
		if !validDomainName(c.DomainName) {
			return Config{}, newError(ErrInvalidRequest, "domainName: %q is not a host name of 1-253 characters", c.DomainName)
		}
		c.DomainType = TypeCustomerManaged
	}
	if a := c.AuthorizerConfig; a != nil && a.DefaultAuthorizerName == "" {
		c.AuthorizerConfig = nil
	}
	if err := s.checkSettings(&c); err != nil {
		return Config{}, err
	}
	c.ARN = s.arn(c.Name, randomLower(5))

	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[c.Name]; ok {
		return Config{}, newError(ErrAlreadyExists, "domain configuration %s already exists", c.Name)
	}
	for _, o := range s.byName {
		if strings.EqualFold(o.DomainName, c.DomainName) {
			return Config{}, newError(ErrAlreadyExists, "domain name %s is already used by domain configuration %s", c.DomainName, o.Name)
		}
	}
	if len(s.byName)-1 >= maxConfigurations {
		return Config{}, newError(ErrLimitExceeded, "at most %d domain configurations per account and region", maxConfigurations)
	}
	if err := s.commitLocked(&c, true); err != nil {
		return Config{}, err
	}
	s.log.Info("domain configuration created", "name", c.Name, "domain", c.DomainName, "protocol", c.ApplicationProtocol, "authentication", c.AuthenticationType)
	return c, nil
}

// commitLocked stores c and publishes the new lookup snapshot; namesChanged tells the PKI first.
func (s *Service) commitLocked(c *Config, namesChanged bool) error {
	if namesChanged && s.opts.OnNames != nil {
		if err := s.opts.OnNames(s.namesLocked(c)); err != nil {
			return fmt.Errorf("domain configuration %s: reissue the server certificate: %w", c.Name, err)
		}
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketDomains).Put([]byte(c.Name), raw) }); err != nil {
		if namesChanged && s.opts.OnNames != nil {
			_ = s.opts.OnNames(s.namesLocked(nil))
		}
		return fmt.Errorf("store domain configuration %s: %w", c.Name, err)
	}
	cp := *c
	s.byName[c.Name] = &cp
	s.publishLocked()
	return nil
}

// namesLocked lists the domain names of the created configurations, with extra added.
func (s *Service) namesLocked(extra *Config) []string {
	var names []string
	for _, c := range s.byName {
		if c.Name != DefaultName {
			names = append(names, strings.ToLower(c.DomainName))
		}
	}
	if extra != nil && extra.Name != DefaultName {
		names = append(names, strings.ToLower(extra.DomainName))
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// publishLocked replaces the lookup snapshot.
func (s *Service) publishLocked() {
	m := make(map[string]Config, len(s.byName))
	for _, c := range s.byName {
		if c.DomainName != "" {
			m[strings.ToLower(c.DomainName)] = *c
		}
	}
	def := *s.byName[DefaultName]
	s.byDomain.Store(&snapshot{byDomain: m, def: def, configured: len(s.byName) > 1 || def.SecurityPolicy != DefaultSecurityPolicy})
}

// Describe is DescribeDomainConfiguration.
func (s *Service) Describe(name string) (Config, error) {
	if !namePattern.MatchString(name) {
		return Config{}, newError(ErrInvalidRequest, "domainConfigurationName: %q must match [\\w.:-]{1,128}", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byName[name]
	if !ok {
		return Config{}, newError(ErrNotFound, "domain configuration %s does not exist", name)
	}
	return *c, nil
}

// Update is UpdateDomainConfiguration. iot:Data-ATS takes only tlsConfig.
func (s *Service) Update(in UpdateInput) (Config, error) {
	if !namePattern.MatchString(in.Name) {
		return Config{}, newError(ErrInvalidRequest, "domainConfigurationName: %q must match [\\w.:-]{1,128}", in.Name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.byName[in.Name]
	if !ok {
		return Config{}, newError(ErrNotFound, "domain configuration %s does not exist", in.Name)
	}
	if in.Name == DefaultName && (in.AuthorizerConfig != nil || in.Status != nil || in.RemoveAuthorizerConfig ||
		in.ServerCertificateConfig != nil || in.AuthenticationType != nil || in.ApplicationProtocol != nil || in.ClientCertificateCallbackARN != nil) {
		return Config{}, newError(ErrInvalidRequest, "domain configuration %s is a default endpoint: only tlsConfig can be updated", DefaultName)
	}
	if in.RemoveAuthorizerConfig && in.AuthorizerConfig != nil {
		return Config{}, newError(ErrInvalidRequest, "removeAuthorizerConfig and authorizerConfig cannot both be given")
	}
	c := *cur
	if in.AuthorizerConfig != nil {
		c.AuthorizerConfig = in.AuthorizerConfig
		if in.AuthorizerConfig.DefaultAuthorizerName == "" {
			c.AuthorizerConfig = nil
		}
	}
	if in.RemoveAuthorizerConfig {
		c.AuthorizerConfig = nil
	}
	if in.Status != nil {
		switch *in.Status {
		case StatusEnabled, StatusDisabled:
		default:
			return Config{}, newError(ErrInvalidRequest, "domainConfigurationStatus: %q is not one of ENABLED, DISABLED", *in.Status)
		}
		if *in.Status != c.Status {
			c.Status, c.LastStatusChangeDate = *in.Status, s.opts.Now().UTC()
		}
	}
	if in.SecurityPolicy != nil {
		c.SecurityPolicy = *in.SecurityPolicy
	}
	if in.ServerCertificateConfig != nil {
		c.ServerCertificateConfig = in.ServerCertificateConfig
	}
	if in.AuthenticationType != nil {
		c.AuthenticationType = *in.AuthenticationType
	}
	if in.ApplicationProtocol != nil {
		c.ApplicationProtocol = *in.ApplicationProtocol
	}
	if in.ClientCertificateCallbackARN != nil {
		c.ClientCertificateCallbackARN = *in.ClientCertificateCallbackARN
	}
	if err := s.checkSettings(&c); err != nil {
		return Config{}, err
	}
	if err := s.commitLocked(&c, false); err != nil {
		return Config{}, err
	}
	s.log.Info("domain configuration updated", "name", c.Name, "status", c.Status, "protocol", c.ApplicationProtocol, "authentication", c.AuthenticationType, "securityPolicy", c.SecurityPolicy)
	return c, nil
}

// Delete is DeleteDomainConfiguration: the configuration must be DISABLED first. AWS keeps an
// AWS-managed domain DISABLED for 7 days before it may go; here it may go at once.
func (s *Service) Delete(name string) error {
	if !createNamePattern.MatchString(name) {
		return newError(ErrInvalidRequest, "domainConfigurationName: %q must be 1-128 characters of letters, digits, '_', '.' and '-'", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byName[name]
	if !ok {
		return newError(ErrNotFound, "domain configuration %s does not exist", name)
	}
	if c.Status != StatusDisabled {
		return newError(ErrInvalidRequest, "domain configuration %s is ENABLED: disable it (UpdateDomainConfiguration domainConfigurationStatus DISABLED) before deleting it", name)
	}
	old := c
	delete(s.byName, name)
	if s.opts.OnNames != nil {
		if err := s.opts.OnNames(s.namesLocked(nil)); err != nil {
			s.byName[name] = old
			return fmt.Errorf("domain configuration %s: reissue the server certificate: %w", name, err)
		}
	}
	if err := s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucketDomains).Delete([]byte(name)) }); err != nil {
		s.byName[name] = old
		return fmt.Errorf("delete domain configuration %s: %w", name, err)
	}
	s.publishLocked()
	s.log.Info("domain configuration deleted", "name", name, "domain", old.DomainName)
	return nil
}

// List is ListDomainConfigurations: sorted by name, from the name after marker.
func (s *Service) List(serviceType, marker string, pageSize int) ([]Config, string, error) {
	switch serviceType {
	case "", "DATA", "CREDENTIAL_PROVIDER", "JOBS":
	default:
		return nil, "", newError(ErrInvalidRequest, "serviceType: %q is not one of DATA, CREDENTIAL_PROVIDER, JOBS", serviceType)
	}
	s.mu.Lock()
	all := make([]Config, 0, len(s.byName))
	for _, c := range s.byName {
		if serviceType == "" || c.ServiceType == serviceType {
			all = append(all, *c)
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	start := 0
	if marker != "" {
		start = sort.Search(len(all), func(i int) bool { return all[i].Name > marker })
	}
	end := min(start+pageSize, len(all))
	next := ""
	if end < len(all) {
		next = all[end-1].Name
	}
	return all[start:end], next, nil
}

// Lookup returns the configuration that decides a ClientHello for serverName (SNI, any case):
// the configuration with that domain name, else iot:Data-ATS; matched reports which.
func (s *Service) Lookup(serverName string) (c Config, matched bool) {
	snap := s.byDomain.Load()
	if serverName != "" {
		if c, ok := snap.byDomain[strings.ToLower(strings.TrimSuffix(serverName, "."))]; ok {
			return c, true
		}
	}
	return snap.def, false
}

// Configured reports whether anything departs from the default: a created configuration, or a
// changed iot:Data-ATS policy. Without, every ClientHello gets the plain port/ALPN table.
func (s *Service) Configured() bool { return s.byDomain.Load().configured }

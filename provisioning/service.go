package provisioning

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/iotcore-local/iotcore-local/pki"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Issuer makes the certificates of CreateKeysAndCertificate, CreateCertificateFromCsr and
// CreateProvisioningClaim (a *pki.Authority).
type Issuer interface {
	IssueDevice() (pki.DeviceCredentials, error)
	SignCSR(csr *x509.CertificateRequest) (certPEM string, err error)
}

// Invoker calls a pre-provisioning hook's function synchronously and returns its response
// payload (the functions package's Invoker satisfies it).
type Invoker interface {
	Invoke(ctx context.Context, arn string, payload []byte) ([]byte, error)
}

// Options configure a Service.
type Options struct {
	Path     string // the bbolt file, e.g. DATA/provisioning.db
	Region   string
	Account  string
	Registry *registry.Registry
	Issuer   Issuer
	// Invoker runs pre-provisioning hooks; nil refuses RegisterThing on a template with a hook
	// (AccessDenied, as when the function fails).
	Invoker Invoker
	// HookTimeout bounds a hook's call; 0 is AWS's 5 seconds.
	HookTimeout time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// AWS's durations and limits.
const (
	tokenLifetime      = time.Hour       // a certificate ownership token
	claimLifetime      = 5 * time.Minute // a CreateProvisioningClaim certificate
	defaultHookTimeout = 5 * time.Second
	maxVersions        = 5   // versions of one template (VersionsLimitExceededException)
	maxTokenBytes      = 512 // what the Embedded C SDK's buffer holds
	maxParameters      = 100 // parameters of one RegisterThing request
)

// maxTemplates is the number of templates of one account (LimitExceededException); a variable
// so that a test can reach it quickly.
var maxTemplates = 256

// Service is fleet provisioning and JITP. It is safe for concurrent use.
type Service struct {
	db     *bbolt.DB
	opts   Options
	log    *slog.Logger
	region string
	acct   string
	// lastSweep is when expired tokens were last looked for (UnixNano).
	lastSweep atomic.Int64
	// closing is cancelled by Close, so that a hook call in flight ends with the emulator.
	closing context.Context
	cancel  context.CancelFunc
}

// Open opens (creating if needed) the provisioning store.
func Open(opts Options) (*Service, error) {
	if opts.Path == "" || opts.Registry == nil {
		return nil, errors.New("provisioning: open: a path and a registry are required")
	}
	if opts.Region == "" {
		opts.Region = registry.DefaultRegion
	}
	if opts.Account == "" {
		opts.Account = registry.DefaultAccount
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = defaultHookTimeout
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o700); err != nil {
		return nil, fmt.Errorf("provisioning: create folder of %s: %w", opts.Path, err)
	}
	db, err := bbolt.Open(opts.Path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("provisioning: open %s (is another process using it?): %w", opts.Path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("provisioning: initialise %s: %w", opts.Path, err)
	}
	s := &Service{db: db, opts: opts, log: log, region: opts.Region, acct: opts.Account}
	s.closing, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// SetInvoker sets the function caller of pre-provisioning hooks (before use).
func (s *Service) SetInvoker(inv Invoker) { s.opts.Invoker = inv }

// Close closes the store.
func (s *Service) Close() error {
	s.cancel()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("provisioning: close: %w", err)
	}
	return nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Round(0) }

// TemplateARN is the ARN of a provisioning template.
func (s *Service) TemplateARN(name string) string {
	return "arn:aws:iot:" + s.region + ":" + s.acct + ":provisioningtemplate/" + name
}

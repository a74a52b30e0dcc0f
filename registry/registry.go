package registry

import (
	"log/slog"
	"time"
)

// Options configure a Registry.
type Options struct {
	Region  string // for ARNs, e.g. us-east-1
	Account string // for ARNs and OwnedBy, e.g. 123456789012
	// ValidatePolicy checks a policy document before it is stored; its error becomes a
	// MalformedPolicyException. Nil accepts any syntactically valid JSON object.
	ValidatePolicy func(document string) error
	Now            func() time.Time // nil: time.Now
	Logger         *slog.Logger
}

// Registry is the persistent store of things, certificates, policies and attachments.
// It is safe for concurrent use.
type Registry struct{}

// Open opens (creating if needed) the registry file at path.
func Open(path string, opts Options) (*Registry, error) { panic("not implemented") }

// Close closes the store.
func (r *Registry) Close() error { panic("not implemented") }

// ThingARN, CertificateARN and PolicyARN build the ARNs of this registry's region and account.
func (r *Registry) ThingARN(name string) string     { panic("not implemented") }
func (r *Registry) CertificateARN(id string) string { panic("not implemented") }
func (r *Registry) PolicyARN(name string) string    { panic("not implemented") }

// Watch calls fn after every committed change until cancel is called.
func (r *Registry) Watch(fn func(Event)) (cancel func()) { panic("not implemented") }

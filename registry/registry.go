package registry

import (
	"errors"
	"fmt"
	"github.com/iotcore-local/iotcore-local/internal/dbfile"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/bbolt"
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

// The region and account used when Options leave them empty; they match the command line's defaults.
const (
	DefaultRegion  = "us-east-1"
	DefaultAccount = "123456789012"
)

// openTimeout bounds the wait for the file lock, so a second process opening the same file fails
// with a clear error instead of hanging.
const openTimeout = 2 * time.Second

// Registry is the persistent store of things, certificates, policies and attachments.
// It is safe for concurrent use.
type Registry struct {
	db     *bbolt.DB
	path   string
	region string
	acct   string
	valid  func(string) error
	now    func() time.Time
	log    *slog.Logger
	notify *notifier
}

// Open opens (creating if needed) the registry file at path.
func Open(path string, opts Options) (*Registry, error) {
	if path == "" {
		return nil, errors.New("registry: open: empty path")
	}
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("registry: create folder of %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout})
	if err != nil {
		return nil, fmt.Errorf("registry: open %s%s: %w", path, dbfile.OpenHint(err), err)
	}
	r := &Registry{
		db:     db,
		path:   path,
		region: opts.Region,
		acct:   opts.Account,
		valid:  opts.ValidatePolicy,
		now:    opts.Now,
		log:    opts.Logger,
		notify: newNotifier(),
	}
	if err := db.Update(r.initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("registry: initialise %s: %w", path, err)
	}
	r.log.Debug("registry opened", "path", path, "region", r.region, "account", r.acct)
	return r, nil
}

// Close closes the store. Calls after Close return an error.
func (r *Registry) Close() error {
	if err := r.db.Close(); err != nil {
		return fmt.Errorf("registry: close %s: %w", r.path, err)
	}
	return nil
}

// ThingARN, CertificateARN and PolicyARN build the ARNs of this registry's region and account.
func (r *Registry) ThingARN(name string) string { return r.arn("thing/" + name) }

// CertificateARN builds the ARN of the certificate with the given id (normalised to lowercase).
func (r *Registry) CertificateARN(id string) string { return r.arn("cert/" + normalizeCertID(id)) }

// PolicyARN builds the ARN of the named policy.
func (r *Registry) PolicyARN(name string) string { return r.arn("policy/" + name) }

// ThingTypeARN builds the ARN of the named thing type.
func (r *Registry) ThingTypeARN(name string) string { return r.arn("thingtype/" + name) }

// ThingGroupARN builds the ARN of the named thing group.
func (r *Registry) ThingGroupARN(name string) string { return r.arn("thinggroup/" + name) }

// CACertificateARN builds the ARN of the CA certificate with the given id (normalised to lowercase).
func (r *Registry) CACertificateARN(id string) string { return r.arn("cacert/" + normalizeCertID(id)) }

// NameFromARN returns the name an ARN of this registry gives to a resource of the given type
// ("thing", "thinggroup", "thingtype", "policy", "cacert", ...): the part after "TYPE/". An ARN
// of another type, or no ARN at all, is an ErrInvalidRequest naming param; an ARN of another
// partition, region or account names nothing here (ErrNotFound).
func (r *Registry) NameFromARN(arn, resourceType, param string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iot" {
		return "", newError(ErrInvalidRequest, "Invalid %s %q: not an AWS IoT ARN", param, arn)
	}
	name, ok := strings.CutPrefix(parts[5], resourceType+"/")
	if !ok || name == "" {
		return "", newError(ErrInvalidRequest, "Invalid %s %q: not the ARN of a %s", param, arn, resourceType)
	}
	if parts[1] != "aws" || parts[3] != r.region || parts[4] != r.acct {
		return "", newError(ErrNotFound, "The %s %s does not exist in region %s, account %s", resourceType, arn, r.region, r.acct)
	}
	return name, nil
}

func (r *Registry) arn(resource string) string {
	return "arn:aws:iot:" + r.region + ":" + r.acct + ":" + resource
}

// Watch calls fn after every committed change until cancel is called. Events arrive in commit
// order, after the transaction has committed and released the store's write lock, and before the
// mutating call returns. fn may read the registry but must not change it synchronously (that would
// wait for its own delivery); start a goroutine for that. A call in flight when cancel runs may
// still reach fn once.
func (r *Registry) Watch(fn func(Event)) (cancel func()) { return r.notify.add(fn) }

// now returns the current time in UTC without a monotonic reading, so that stored and returned
// values compare equal.
func (r *Registry) nowUTC() time.Time { return r.now().UTC().Round(0) }

// update runs fn in one bbolt write transaction. The events fn records are delivered to watchers,
// in commit order, only if the transaction commits.
func (r *Registry) update(fn func(tx *bbolt.Tx, emit func(Event)) error) error {
	var (
		events []Event
		seq    uint64
		ticket bool
	)
	var fnErr error
	err := r.db.Update(func(tx *bbolt.Tx) error {
		events = events[:0]
		if fnErr = fn(tx, func(e Event) { events = append(events, e) }); fnErr != nil {
			return fnErr
		}
		if len(events) > 0 {
			// Taken while bbolt's writer lock is held, so tickets follow commit order.
			seq, ticket = r.notify.ticket(), true
		}
		return nil
	})
	if ticket {
		if err != nil { // the commit itself failed: nothing changed, but the ticket must be used
			events = nil
		}
		r.notify.deliver(seq, events)
	}
	if err != nil && err != fnErr {
		return fmt.Errorf("registry: write transaction on %s: %w", r.path, err)
	}
	return err
}

// view runs fn in one read transaction.
func (r *Registry) view(fn func(tx *bbolt.Tx) error) error {
	var fnErr error
	err := r.db.View(func(tx *bbolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	})
	if err != nil && err != fnErr {
		return fmt.Errorf("registry: read transaction on %s: %w", r.path, err)
	}
	return err
}

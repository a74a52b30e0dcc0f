package hooks

import (
	"crypto/x509"
	"fmt"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Directory is what the hooks read from the registry. *registry.Registry implements it.
type Directory interface {
	CertificateIdentity(id string) (registry.CertificateView, error)
	DescribeThing(name string) (registry.Thing, error)
	// AutoRegisterCertificate registers an unknown certificate signed by a CA registered with
	// auto-registration, as PENDING_ACTIVATION (just-in-time registration).
	AutoRegisterCertificate(cert *x509.Certificate) (registry.Certificate, bool, error)
	// CertificateRegisteredPublication is the JITR event for a certificate.
	CertificateRegisteredPublication(c registry.Certificate) (registry.Publication, error)
}

// refusal is why a CONNECT was refused; its text goes to the log and the transcript.
type refusal struct {
	reason  string
	unknown bool                 // the certificate is not registered
	cert    registry.Certificate // the registered certificate, when it is
}

func (r *refusal) Error() string { return r.reason }

// principal is the identity behind one connection, resolved at CONNECT: what its checks, logs
// and lifecycle events need for as long as it lives, not the registry records it came from (those
// are read again when the registry changes).
type principal struct {
	env auth.Environment
	// exclusiveThing is the thing attached to the certificate as EXCLUSIVE_THING, if any: the
	// thing name AWS reports in lifecycle events.
	exclusiveThing string
	// identifier is the principalIdentifier of lifecycle events for a principal that is not a
	// certificate (an access key, a Cognito identity, a custom authorizer's principalId).
	identifier string
	// recompile, when set, builds the principal's policies again after a registry change; a
	// certificate's are read again from the registry instead.
	recompile func() *auth.Compiled
}

func newPrincipal(view registry.CertificateView, env auth.Environment) *principal {
	p := &principal{env: env}
	for _, t := range view.Things {
		if t.Type == registry.ExclusiveThing {
			p.exclusiveThing = t.ThingName
		}
	}
	return p
}

// resolvePrincipal maps a presented certificate to its registration, status and thing, as AWS
// does: trust is by registration of the exact certificate, and only ACTIVE certificates connect.
// It returns the principal and the policies in force for it (certificate and thing groups).
func resolvePrincipal(dir Directory, id, clientID string, base auth.Environment) (*principal, []registry.Policy, error) {
	view, err := dir.CertificateIdentity(id)
	if err != nil {
		return nil, nil, &refusal{reason: fmt.Sprintf("certificate %s is not registered", id), unknown: true}
	}
	if view.Certificate.Status != registry.StatusActive {
		return nil, nil, &refusal{reason: fmt.Sprintf("certificate %s is %s, only ACTIVE certificates may connect", id, view.Certificate.Status), cert: view.Certificate}
	}
	env := auth.BindThing(view, clientID, base, dir.DescribeThing)
	return newPrincipal(view, env), auth.PoliciesInForce(view, env.ThingName), nil
}

// compile builds the connection's policy set.
func compile(policies []registry.Policy, env auth.Environment) *auth.Compiled {
	return auth.CompilePolicies(policies, env)
}

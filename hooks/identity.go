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

// principal is the identity behind one connection, resolved at CONNECT.
type principal struct {
	view registry.CertificateView
	env  auth.Environment
}

// policies are the policies in force for the connection (certificate and thing groups).
func (p *principal) policies() []registry.Policy {
	return auth.PoliciesInForce(p.view, p.env.ThingName)
}

// resolvePrincipal maps a presented certificate to its registration, status and thing, as AWS
// does: trust is by registration of the exact certificate, and only ACTIVE certificates connect.
func resolvePrincipal(dir Directory, id, clientID string, base auth.Environment) (*principal, error) {
	view, err := dir.CertificateIdentity(id)
	if err != nil {
		return nil, &refusal{reason: fmt.Sprintf("certificate %s is not registered", id), unknown: true}
	}
	if view.Certificate.Status != registry.StatusActive {
		return nil, &refusal{reason: fmt.Sprintf("certificate %s is %s, only ACTIVE certificates may connect", id, view.Certificate.Status), cert: view.Certificate}
	}
	env := auth.BindThing(view, clientID, base, dir.DescribeThing)
	return &principal{view: view, env: env}, nil
}

// compile builds the connection's policy set.
func compile(policies []registry.Policy, env auth.Environment) *auth.Compiled {
	return auth.CompilePolicies(policies, env)
}

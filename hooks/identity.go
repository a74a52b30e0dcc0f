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

// policies are the policies in force for the connection: those attached to its certificate and
// those attached to the thing groups of its bound thing (and their parents).
func (p *principal) policies() []registry.Policy {
	groups := p.view.GroupPolicies[p.env.ThingName]
	if p.env.ThingName == "" || len(groups) == 0 {
		return p.view.Policies
	}
	all := make([]registry.Policy, 0, len(p.view.Policies)+len(groups))
	return append(append(all, p.view.Policies...), groups...)
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
	env := base
	env.ClientID = clientID
	env.CertificateID = id
	if name := boundThing(view.Things, clientID); name != "" {
		env.ThingName = name
		env.ThingIsAttached = true
		if thing, err := dir.DescribeThing(name); err == nil {
			env.ThingTypeName = thing.TypeName
			env.ThingAttributes = thing.Attributes
		}
	}
	return &principal{view: view, env: env}, nil
}

// boundThing is the thing whose variables a connection sees: an exclusively attached thing, or a
// non-exclusively attached thing whose name equals the client id (AWS's rule).
func boundThing(things []registry.ThingAttachment, clientID string) string {
	for _, t := range things {
		if t.Type == registry.ExclusiveThing {
			return t.ThingName
		}
	}
	for _, t := range things {
		if t.ThingName == clientID {
			return t.ThingName
		}
	}
	return ""
}

// compile builds the connection's policy set from the certificate's attached policies.
// A stored policy that no longer parses is skipped (the registry validates on write).
func compile(policies []registry.Policy, env auth.Environment) *auth.Compiled {
	docs := make([]auth.NamedDocument, 0, len(policies))
	for _, p := range policies {
		doc, err := auth.ParseDocument(p.Document)
		if err != nil {
			continue
		}
		docs = append(docs, auth.NamedDocument{Name: p.Name, Document: doc})
	}
	return auth.Compile(docs, env)
}

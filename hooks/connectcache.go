package hooks

import (
	"net/netip"
	"sync"

	"github.com/iotcore-local/iotcore-local/auth"
)

// connectCache remembers what a CONNECT resolved from the registry for a certificate, so that a
// reconnecting device does not read the registry and compile its policies again: per
// certificate, client id and the connection facts policies may depend on, the principal (thing
// binding, attributes) and the compiled policies; per certificate, its status and first thing
// for the handshake transcript.
//
// Every entry belongs to one registry generation (registry.Registry.Generation, which changes
// after every committed write). An entry is used only while the generation is the one it was
// read in; any write — a certificate status, a policy version, an attachment, a thing's
// attributes or groups — empties the cache, so a change takes effect at the next CONNECT exactly
// as without it. A connect notes the generation before it reads the registry and stores its
// result under that number only if it is still current.
//
// Only connections the registry admits are cached (ACTIVE certificates); refusals take the full
// path every time, and so do certificates whose identity the Directory makes up from more than
// the registry (UncachedIdentities: fleet provisioning's claim certificates, which expire). The
// cache is bounded: when full, it starts afresh.
type connectCache struct {
	generation func() uint64

	mu        sync.Mutex
	gen       uint64
	decisions map[connectKey]connectEntry
	certs     map[string]certFacts
}

// UncachedIdentities is implemented by a Directory some of whose certificates are not (only)
// registry records — a claim certificate of fleet provisioning is valid for minutes and its
// expiry changes no registry generation. Uncached reports such a certificate; the connect cache
// then never keeps what it resolved.
type UncachedIdentities interface {
	Uncached(certID string) bool
}

// uncached reports whether certID's identity must not be cached.
func (a *Authorizer) uncached(certID string) bool {
	u, ok := a.opts.Directory.(UncachedIdentities)
	return ok && u.Uncached(certID)
}

// maxConnectCache bounds each map of the cache.
const maxConnectCache = 1 << 15

// connectKey is what a compiled policy set depends on besides the registry: the certificate,
// the client id and the connection's own facts (policy variables and condition keys).
type connectKey struct {
	certID, clientID, domain, willTopic string
	sourceIP                            netip.Addr
	persistent, hasWill                 bool
}

// connectEntry is a resolved connection: shared, never modified, by every session that uses it
// (a refresh after a registry change compiles a new policy set for the session).
type connectEntry struct {
	who      *principal
	compiled *auth.Compiled
	connect  connectVerdict
}

// connectVerdict is the iot:Connect decision of a compiled policy set for the entry's client id,
// and the explanation the transcript shows (and a refusal gives): both follow from the compiled
// set and the client id alone, so a cached entry keeps them.
type connectVerdict struct {
	allowed bool
	reason  string
}

// verdictOf decides iot:Connect for clientID.
func verdictOf(c *auth.Compiled, clientID string) connectVerdict {
	return connectVerdict{
		allowed: c.Decide(auth.ActionConnect, "client", clientID).Allowed,
		reason:  c.Explain(auth.ActionConnect, "client", clientID).Reason,
	}
}

// certFacts is what the handshake transcript shows about a certificate.
type certFacts struct {
	status, thing string
	known         bool
}

func newConnectCache(generation func() uint64) *connectCache {
	if generation == nil {
		return nil
	}
	return &connectCache{generation: generation, decisions: map[connectKey]connectEntry{}, certs: map[string]certFacts{}}
}

func keyOf(env auth.Environment, certID, clientID string) connectKey {
	return connectKey{certID: certID, clientID: clientID, domain: env.DomainName, willTopic: env.WillTopic,
		sourceIP: env.SourceIP, persistent: env.PersistentConnect, hasWill: env.HasWill}
}

// current empties the cache when the registry has changed since its entries were read; c.mu held.
func (c *connectCache) current() {
	if g := c.generation(); g != c.gen {
		clear(c.decisions)
		clear(c.certs)
		c.gen = g
	}
}

func (c *connectCache) decision(k connectKey) (connectEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current()
	e, ok := c.decisions[k]
	return e, ok
}

// putDecision stores e, read in registry generation g, if g is still current.
func (c *connectCache) putDecision(g uint64, k connectKey, e connectEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current()
	if c.gen != g {
		return
	}
	if len(c.decisions) >= maxConnectCache {
		clear(c.decisions)
	}
	c.decisions[k] = e
}

func (c *connectCache) facts(certID string) (certFacts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current()
	f, ok := c.certs[certID]
	return f, ok
}

func (c *connectCache) putFacts(g uint64, certID string, f certFacts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.current()
	if c.gen != g {
		return
	}
	if len(c.certs) >= maxConnectCache {
		clear(c.certs)
	}
	c.certs[certID] = f
}

// resolve is resolvePrincipal and compile through the cache.
func (a *Authorizer) resolve(certID, clientID string, base auth.Environment) (*principal, *auth.Compiled, error) {
	who, c, _, err := a.resolveConnect(certID, clientID, base)
	return who, c, err
}

// resolveConnect is resolve with the iot:Connect verdict for clientID.
func (a *Authorizer) resolveConnect(certID, clientID string, base auth.Environment) (*principal, *auth.Compiled, connectVerdict, error) {
	c := a.cache
	if c == nil {
		who, policies, err := resolvePrincipal(a.opts.Directory, certID, clientID, base)
		if err != nil {
			return nil, nil, connectVerdict{}, err
		}
		compiled := compile(policies, who.env)
		return who, compiled, verdictOf(compiled, clientID), nil
	}
	k := keyOf(base, certID, clientID)
	if e, ok := c.decision(k); ok {
		return e.who, e.compiled, e.connect, nil
	}
	g := c.generation() // before the reads
	volatile := a.uncached(certID)
	who, policies, err := resolvePrincipal(a.opts.Directory, certID, clientID, base)
	if err != nil {
		return nil, nil, connectVerdict{}, err
	}
	compiled := compile(policies, who.env)
	v := verdictOf(compiled, clientID)
	// Checked before and after the reads: an identity that was volatile at any point of them
	// is not kept.
	if !volatile && !a.uncached(certID) {
		c.putDecision(g, k, connectEntry{who: who, compiled: compiled, connect: v})
	}
	return who, compiled, v, nil
}

// CertificateFacts tells the handshake transcript a presented certificate's status and the
// first thing (by name) attached to it, from the connect cache when it can: known is false for
// an unregistered certificate, and for one the Directory reports Uncached (the caller describes
// those itself).
func (a *Authorizer) CertificateFacts(certID string) (status, thing string, known bool) {
	c := a.cache
	if c != nil {
		if f, ok := c.facts(certID); ok {
			return f.status, f.thing, f.known
		}
	}
	var g uint64
	if c != nil {
		g = c.generation()
	}
	if a.uncached(certID) {
		return "", "", false // not a registered certificate: the caller describes it
	}
	view, err := a.opts.Directory.CertificateIdentity(certID)
	if err != nil {
		return "", "", false // not cached: an unknown certificate may be registered any moment
	}
	f := certFacts{status: string(view.Certificate.Status), known: true}
	for _, t := range view.Things {
		if f.thing == "" || t.ThingName < f.thing {
			f.thing = t.ThingName
		}
	}
	if c != nil {
		c.putFacts(g, certID, f)
	}
	return f.status, f.thing, f.known
}

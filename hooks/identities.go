package hooks

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// Connections authenticated before MQTT began: the identity rides on the listener's Conn
// (Conn.Identity), put there by whoever authenticated the WebSocket upgrade. The policy checks
// that follow are those of certificate connections: the same compiled policy set decides
// iot:Connect, the will, every PUBLISH, SUBSCRIBE and delivery.

// SigV4Identity is who signed an MQTT-over-WebSocket upgrade with SigV4.
type SigV4Identity struct {
	AccessKey string
	// IdentityID is the Cognito identity id the access key belongs to, "" for an IAM key. The IoT
	// policies attached to it must allow too.
	IdentityID string
	// Policy is the key's IAM-style policy document (iot: actions), "" for none. A key with neither
	// Policy nor IdentityID is allowed everything.
	Policy string
}

// principalID is what lifecycle events report: the Cognito identity id, or the access key.
func (id SigV4Identity) principalID() string {
	if id.IdentityID != "" {
		return id.IdentityID
	}
	return id.AccessKey
}

// defaultWebSocketLifetime is how long AWS keeps a SigV4 WebSocket connection: 24 hours.
const defaultWebSocketLifetime = 24 * time.Hour

// LifetimeExpired ends a connection whose allowed lifetime is over; its reason is the lifecycle
// event's disconnectReason (WEBSOCKET_TTL_EXPIRATION, CUSTOMAUTH_TTL_EXPIRATION).
type LifetimeExpired struct{ Reason string }

func (e *LifetimeExpired) Error() string            { return "connection lifetime over: " + e.Reason }
func (e *LifetimeExpired) DisconnectReason() string { return e.Reason }

// connectionEnv is the environment of a CONNECT, before any identity is bound.
func (a *Authorizer) connectionEnv(cl *mqtt.Client, pk packets.Packet, state tls.ConnectionState) auth.Environment {
	env := auth.Environment{
		Partition: "aws", Region: a.opts.Region, Account: a.opts.Account, ClientID: cl.ID,
		DomainName: state.ServerName, PersistentConnect: !pk.Connect.Clean,
		HasWill: pk.Connect.WillFlag, WillTopic: pk.Connect.WillTopic,
	}
	if addr, err := netip.ParseAddrPort(cl.Net.Remote); err == nil {
		env.SourceIP = addr.Addr()
	}
	return env
}

// connectIdentity decides the CONNECT of a connection that carries an identity.
func (a *Authorizer) connectIdentity(cl *mqtt.Client, pk packets.Packet, tr *listener.Transcript, state tls.ConnectionState, identity any) error {
	switch id := identity.(type) {
	case *CustomAuthWebSocket:
		return a.connectCustom(cl, pk, tr, state, id)
	case SigV4Identity:
		return a.connectSigV4(cl, pk, tr, state, id)
	case *SigV4Identity:
		return a.connectSigV4(cl, pk, tr, state, *id)
	}
	return a.refuse(cl, tr, fmt.Sprintf("connection carries an identity of unknown kind %T", identity))
}

// sigV4Policies compiles the policy set of a SigV4 identity: its IAM-style policy (or everything
// when it has none), and the IoT policies attached to its Cognito identity id, which must allow
// too.
func (a *Authorizer) sigV4Policies(id SigV4Identity, env auth.Environment) (*auth.Compiled, error) {
	var c *auth.Compiled
	if id.Policy != "" {
		c = auth.CompilePolicies([]registry.Policy{{Name: "policy of access key " + id.AccessKey, Document: id.Policy}}, env)
	} else {
		c = auth.AllowAll(env)
	}
	if id.IdentityID == "" {
		return c, nil
	}
	var attached []registry.Policy
	if a.opts.IdentityPolicies != nil {
		var err error
		if attached, err = a.opts.IdentityPolicies(id.IdentityID); err != nil {
			return nil, fmt.Errorf("read the policies of Cognito identity %s: %w", id.IdentityID, err)
		}
	}
	return auth.Both(c, auth.CompilePolicies(attached, env), "the IoT policies attached to Cognito identity "+id.IdentityID+":"), nil
}

func (a *Authorizer) connectSigV4(cl *mqtt.Client, pk packets.Packet, tr *listener.Transcript, state tls.ConnectionState, id SigV4Identity) error {
	env := a.connectionEnv(cl, pk, state)
	c, err := a.sigV4Policies(id, env)
	if err != nil {
		return a.refuse(cl, tr, err.Error())
	}
	if !c.Decide(auth.ActionConnect, "client", cl.ID).Allowed {
		return a.refuse(cl, tr, c.Explain(auth.ActionConnect, "client", cl.ID).Reason)
	}
	if reason, ok := a.willAllowed(cl, c); !ok {
		return a.refuse(cl, tr, reason)
	}
	who := &principal{env: env, identifier: id.principalID(), recompile: func() *auth.Compiled {
		c, err := a.sigV4Policies(id, env)
		if err != nil {
			a.log.Warn("cannot refresh policies", "client", cl.ID, "error", err)
			return &auth.Compiled{} // decides nothing: every action is denied
		}
		return c
	}}
	s := &session{client: cl, who: who}
	s.policy.Store(c)
	a.sessions.put(s)
	lifetime := a.opts.WebSocketLifetime
	if lifetime <= 0 {
		lifetime = defaultWebSocketLifetime
	}
	a.startLifetime(cl, lifetime, "WEBSOCKET_TTL_EXPIRATION")
	kind := "access key " + id.AccessKey
	if id.IdentityID != "" {
		kind += " of Cognito identity " + id.IdentityID
	}
	tr.Finish("ok", fmt.Sprintf("connected as client %q over WebSocket, signed (SigV4) with %s", cl.ID, kind))
	return nil
}

// startLifetime ends cl after d with the lifecycle reason given.
func (a *Authorizer) startLifetime(cl *mqtt.Client, d time.Duration, reason string) {
	t := time.AfterFunc(d, func() {
		a.lifetimes.Delete(cl)
		a.log.Info("connection lifetime over; disconnecting", "client", cl.ID, "reason", reason, "lifetime", d)
		cl.Stop(&LifetimeExpired{Reason: reason})
	})
	if old, loaded := a.lifetimes.Swap(cl, t); loaded {
		old.(*time.Timer).Stop()
	}
}

// stopLifetime stops cl's lifetime timer, if it has one.
func (a *Authorizer) stopLifetime(cl *mqtt.Client) {
	if t, ok := a.refreshers.LoadAndDelete(cl); ok {
		t.(*time.Timer).Stop()
	}
	if t, ok := a.lifetimes.LoadAndDelete(cl); ok {
		t.(*time.Timer).Stop()
	}
}

// Package hooks holds the Mochi hooks that make the broker behave as AWS IoT Core: certificate
// identity and policy decisions on every CONNECT, PUBLISH, SUBSCRIBE and delivery.
package hooks

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// AuthorizerOptions configure the Authorizer.
type AuthorizerOptions struct {
	Directory Directory
	Region    string
	Account   string
	Logger    *slog.Logger
}

// Authorizer is the Mochi hook that decides every connection and operation with AWS IoT
// semantics: the presented certificate must be registered and ACTIVE, and the policies attached
// to it must allow iot:Connect, iot:Publish, iot:Subscribe and iot:Receive.
type Authorizer struct {
	mqtt.HookBase
	opts     AuthorizerOptions
	log      *slog.Logger
	sessions sessions
}

// NewAuthorizer returns the hook; add it to the server before Serve.
func NewAuthorizer(opts AuthorizerOptions) *Authorizer {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Authorizer{opts: opts, log: log}
}

// ID names the hook.
func (a *Authorizer) ID() string { return "iotcore-authorizer" }

// Provides lists the events the hook handles.
func (a *Authorizer) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnDisconnect,
	}, []byte{b})
}

// errRefused makes Mochi close the connection without a CONNACK, as AWS IoT does for a refused
// CONNECT over MQTT 3.1.1.
var errRefused = errors.New("connection refused by authorization")

// OnConnect resolves the certificate to its registration and thing and decides iot:Connect.
func (a *Authorizer) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	conn, ok := cl.Net.Conn.(*listener.Conn)
	if !ok {
		return a.refuse(cl, nil, "connection did not come through an iotcore-local TLS listener")
	}
	tr := conn.Transcript()
	tr.SetClient(cl.ID)
	state := conn.ConnectionState()
	if len(state.PeerCertificates) == 0 {
		return a.refuse(cl, tr, "no client certificate was presented")
	}
	base := auth.Environment{Partition: "aws", Region: a.opts.Region, Account: a.opts.Account}
	who, err := resolvePrincipal(a.opts.Directory, state.PeerCertificates[0], cl.ID, base)
	if err != nil {
		return a.refuse(cl, tr, err.Error())
	}
	s := &session{client: cl, who: who}
	s.policy.Store(compile(who.view.Policies, who.env))
	if d := s.policy.Load().Decide(auth.ActionConnect, "client", cl.ID); !d.Allowed {
		d = s.policy.Load().Explain(auth.ActionConnect, "client", cl.ID)
		return a.refuse(cl, tr, d.Reason)
	}
	a.sessions.put(s)
	tr.Finish("ok", fmt.Sprintf("connected as client %q with certificate %s", cl.ID, who.env.CertificateID))
	return nil
}

// refuse logs why a CONNECT was refused, completes the transcript and makes Mochi close the
// connection with no CONNACK.
func (a *Authorizer) refuse(cl *mqtt.Client, tr *listener.Transcript, reason string) error {
	a.log.Warn("connect refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
	if tr != nil {
		tr.Finish("refused", reason)
	}
	return fmt.Errorf("%w: %s", errRefused, reason)
}

// OnConnectAuthenticate admits the clients OnConnect accepted. Mochi ORs this hook across all
// hooks and denies when none provides it, so it must be provided.
func (a *Authorizer) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	s := a.sessions.get(cl.ID)
	return s != nil && s.client == cl
}

// OnSubscribe decides iot:Subscribe for every filter of the packet before Mochi asks the ACL, so
// that the ACL check can tell a subscribe (filter) from a delivery (topic name): Mochi asks both
// with the same arguments.
func (a *Authorizer) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	s := a.sessions.get(cl.ID)
	if s == nil || s.client != cl {
		return pk
	}
	pending := make(map[string]bool, len(pk.Filters))
	c := s.policy.Load()
	for _, f := range pk.Filters {
		allowed := c.Decide(auth.ActionSubscribe, "topicfilter", f.Filter).Allowed
		if !allowed {
			d := c.Explain(auth.ActionSubscribe, "topicfilter", f.Filter)
			a.log.Warn("subscribe denied", "client", cl.ID, "filter", f.Filter, "certificate", s.who.env.CertificateID, "reason", d.Reason)
		}
		pending[f.Filter] = allowed
	}
	s.setPending(pending)
	return pk
}

// OnSubscribed ends the subscribe window opened by OnSubscribe.
func (a *Authorizer) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if s := a.sessions.get(cl.ID); s != nil && s.client == cl {
		s.setPending(nil)
	}
}

// OnACLCheck decides iot:Publish (write) and, for reads, iot:Subscribe on a filter of the
// SUBSCRIBE being processed or iot:Receive on a delivered topic.
func (a *Authorizer) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := a.sessions.get(cl.ID)
	if s == nil {
		return false
	}
	c := s.policy.Load()
	if write {
		if c.Decide(auth.ActionPublish, "topic", topic).Allowed {
			return true
		}
		d := c.Explain(auth.ActionPublish, "topic", topic)
		a.log.Warn("publish denied", "client", cl.ID, "topic", topic, "certificate", s.who.env.CertificateID, "reason", d.Reason)
		return false
	}
	if allowed, ok := s.subscribeDecision(topic); ok {
		return allowed
	}
	return c.Decide(auth.ActionReceive, "topic", topic).Allowed
}

// OnDisconnect forgets a clean session's authorization state; persistent sessions keep it for
// the messages queued while they are offline.
func (a *Authorizer) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	if expire && !cl.IsTakenOver() {
		a.sessions.drop(cl)
	}
}

// CertificateChanged applies a registry change to live connections: a certificate that is no
// longer ACTIVE (or deleted) loses its connections, and a policy or attachment change recompiles
// the affected connections' policies, effective from their next operation.
func (a *Authorizer) CertificateChanged(ev registry.Event) {
	switch ev.Kind {
	case registry.CertificateStatusChanged, registry.CertificateDeleted:
		if ev.Kind == registry.CertificateStatusChanged && ev.Status == registry.StatusActive {
			return
		}
		a.sessions.each(func(s *session) {
			if s.who.env.CertificateID == ev.CertificateID {
				a.log.Info("dropping connection: certificate no longer active", "client", s.client.ID, "certificate", ev.CertificateID, "status", string(ev.Status))
				a.sessions.drop(s.client)
				s.client.Stop(fmt.Errorf("certificate %s is %s", ev.CertificateID, statusText(ev)))
			}
		})
	case registry.AttachmentChanged:
		a.sessions.each(func(s *session) {
			if s.who.env.CertificateID == ev.CertificateID {
				a.refresh(s)
			}
		})
	case registry.PolicyChanged:
		a.sessions.each(func(s *session) { a.refresh(s) })
	}
}

func statusText(ev registry.Event) string {
	if ev.Kind == registry.CertificateDeleted {
		return "deleted"
	}
	return string(ev.Status)
}

// refresh recompiles a session's policies from the registry.
func (a *Authorizer) refresh(s *session) {
	view, err := a.opts.Directory.CertificateIdentity(s.who.env.CertificateID)
	if err != nil {
		a.log.Warn("cannot refresh policies", "client", s.client.ID, "error", err)
		return
	}
	s.policy.Store(compile(view.Policies, s.who.env))
}

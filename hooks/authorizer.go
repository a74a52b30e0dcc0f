// Package hooks holds the Mochi hooks that make the broker behave as AWS IoT Core: certificate
// identity and policy decisions on every CONNECT, PUBLISH, SUBSCRIBE and delivery.
package hooks

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

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
	// Profile is "aws" (AWS IoT Core's reactions: refused operations close an MQTT 3.1.1
	// connection) or "mqtt" (MQTT's own answers: SUBACK 0x80, publishes acknowledged and dropped).
	Profile string
	// Server sends the MQTT 5 CONNACK and DISCONNECT reason codes; nil leaves them out.
	Server *mqtt.Server
	// OnRefused, when set, is told about every CONNECT the authorizer refuses (lifecycle events).
	OnRefused func(cl *mqtt.Client)
	// StoredCertificate, when set, names the certificate of a session restored from storage
	// after a restart, so that messages queued for it are checked against that certificate's
	// policies while the client is offline.
	StoredCertificate func(clientID string) (certID string, ok bool)
	Logger            *slog.Logger
	// IdentityPolicies returns the IoT policies attached to a Cognito identity id (AttachPolicy
	// --target <identity id>); nil: none are.
	IdentityPolicies func(identityID string) ([]registry.Policy, error)
	// WebSocketLifetime ends SigV4 (MQTT over WebSocket) connections after this long, with
	// disconnectReason WEBSOCKET_TTL_EXPIRATION; 0 means AWS's 24 hours.
	WebSocketLifetime time.Duration
	// CustomAuth runs custom authentication (ALPN mqtt on 443, unsigned WebSocket upgrades);
	// nil refuses those connections.
	CustomAuth CustomAuthenticator
	// CustomAuthSecond is the unit of an authorizer answer's disconnectAfterInSeconds and
	// refreshAfterInSeconds; 0 is a second. Tests shorten it to see the timers fire.
	CustomAuthSecond time.Duration
	// Generation, when set, is the registry's write counter (registry.Registry.Generation): the
	// authorizer then caches what a reconnecting certificate needs (connectcache.go), valid
	// until the next registry write.
	Generation func() uint64
}

// Authorizer is the Mochi hook that decides every connection and operation with AWS IoT
// semantics: the presented certificate must be registered and ACTIVE, and the policies attached
// to it must allow iot:Connect, iot:Publish, iot:Subscribe and iot:Receive.
type Authorizer struct {
	mqtt.HookBase
	opts     AuthorizerOptions
	log      *slog.Logger
	sessions sessions
	// readDispatched: a ReadDispatch runs the OnPacketRead check (set before the hook is added).
	readDispatched bool
	// lifetimes holds the timers that end connections with a bounded lifetime (WebSocket, custom
	// authorizer answers), by *mqtt.Client; OnDisconnect stops them.
	lifetimes sync.Map
	// refreshers holds the timers that call a custom authorizer again (refreshAfterInSeconds).
	refreshers sync.Map
	cache      *connectCache // nil without AuthorizerOptions.Generation
}

// NewAuthorizer returns the hook; add it to the server before Serve.
func NewAuthorizer(opts AuthorizerOptions) *Authorizer {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Authorizer{opts: opts, log: log, cache: newConnectCache(opts.Generation)}
}

// ID names the hook.
func (a *Authorizer) ID() string { return "iotcore-authorizer" }

// authorizerEvents are the events the Authorizer handles.
var authorizerEvents = newEventSet(
	mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead,
	mqtt.OnPublish, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnDisconnect,
)

// Provides reports whether the hook handles event b.
//
// OnPublish is provided under profile mqtt only: it acknowledges and drops a refused MQTT 3.1.1
// publish, which under profile aws never reaches it (OnPacketRead closes the connection, and
// OnACLCheck refuses an MQTT 5 publish before Mochi calls OnPublish).
func (a *Authorizer) Provides(b byte) bool {
	switch b {
	case mqtt.OnPublish:
		return a.opts.Profile != "aws"
	case mqtt.OnPacketRead:
		return !a.readDispatched // ReadDispatch runs the check
	}
	return authorizerEvents.has(b)
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
	recordConnect(tr, cl, pk)
	state := conn.ConnectionState()
	if id := conn.Identity(); id != nil {
		return a.connectIdentity(cl, pk, tr, state, id)
	}
	if conn.CustomAuth() || len(state.PeerCertificates) == 0 && state.NegotiatedProtocol == listener.ProtocolMQTT {
		return a.connectCustom(cl, pk, tr, state, nil)
	}
	if len(state.PeerCertificates) == 0 {
		return a.refuse(cl, tr, "no client certificate was presented")
	}
	base := auth.Environment{
		Partition:         "aws",
		Region:            a.opts.Region,
		Account:           a.opts.Account,
		Certificate:       state.PeerCertificates[0],
		DomainName:        state.ServerName,
		PersistentConnect: !pk.Connect.Clean,
		HasWill:           pk.Connect.WillFlag,
		WillTopic:         pk.Connect.WillTopic,
	}
	if addr, err := netip.ParseAddrPort(cl.Net.Remote); err == nil {
		base.SourceIP = addr.Addr()
	}
	peer := state.PeerCertificates[0]
	who, c, verdict, err := a.resolveConnect(registry.CertificateID(peer.Raw), cl.ID, base)
	if err != nil {
		return a.refuse(cl, tr, a.justInTime(peer, err))
	}
	if a.log.Enabled(context.Background(), slog.LevelDebug) { // the notes are made only for a debug log
		for _, ex := range c.Excluded() {
			a.log.Debug("policy statement does not apply to this connection", "client", cl.ID, "policy", ex.Policy, "statement", ex.Statement, "reason", ex.Reason)
		}
	}
	recordConnectVerdict(tr, verdict.reason, who.env.ThingName)
	if !verdict.allowed {
		return a.refuse(cl, tr, verdict.reason)
	}
	if reason, ok := a.willAllowed(cl, c); !ok {
		return a.refuse(cl, tr, reason)
	}
	s := &session{client: cl, who: who}
	s.policy.Store(c)
	a.sessions.put(s) // under the client id's connect gate (Profile.OnConnect): no other connect interleaves
	tr.Finish("ok", "connected as client "+strconv.Quote(cl.ID)+" with certificate "+who.env.CertificateID)
	return nil
}

// justInTime applies AWS's just-in-time registration to a refused certificate: an unknown
// certificate signed by a CA registered with auto-registration is registered PENDING_ACTIVATION
// (the registry announces it on $aws/events/certificates/registered/<caCertificateId>), and a
// certificate still PENDING_ACTIVATION announces itself again. The connection is refused either
// way; the device connects once the certificate is activated. It returns the refusal's text.
func (a *Authorizer) justInTime(peer *x509.Certificate, err error) string {
	var r *refusal
	if !errors.As(err, &r) {
		return err.Error()
	}
	switch {
	case r.unknown:
		cert, registered, aerr := a.opts.Directory.AutoRegisterCertificate(peer)
		if aerr != nil {
			a.log.Warn("just-in-time registration failed", "error", aerr)
		}
		if registered && cert.Status == registry.StatusActive {
			return fmt.Sprintf("certificate %s was unknown and is now provisioned just in time from CA %s's template; connect again", cert.ID, cert.CACertificateID)
		}
		if registered {
			return fmt.Sprintf("certificate %s was unknown and is now registered PENDING_ACTIVATION by just-in-time registration (CA %s); activate it and connect again", cert.ID, cert.CACertificateID)
		}
	case r.cert.Status == registry.StatusPendingActivation && r.cert.CACertificateID != "":
		if pub, perr := a.opts.Directory.CertificateRegisteredPublication(r.cert); perr == nil && a.opts.Server != nil {
			_ = a.opts.Server.Publish(pub.Topic, pub.Payload, false, 0)
		}
	}
	return r.reason
}

// refuse logs why a CONNECT was refused, completes the transcript and makes Mochi close the
// connection with no CONNACK.
// MQTT 5 clients get CONNACK 0x87 (Not authorized) first, as AWS sends it.
func (a *Authorizer) refuse(cl *mqtt.Client, tr *listener.Transcript, reason string) error {
	a.log.Warn("connect refused", "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
	if tr != nil {
		tr.Step(listener.StepRefused, "CONNECT refused, no CONNACK: "+reason)
		tr.Finish("refused", reason)
	}
	if cl.Properties.ProtocolVersion == 5 && a.opts.Server != nil {
		_ = a.opts.Server.SendConnack(cl, packets.ErrNotAuthorized, false, nil)
	}
	if a.opts.OnRefused != nil {
		a.opts.OnRefused(cl)
	}
	return fmt.Errorf("%w: %s", errRefused, reason)
}

// willAllowed checks the will message at CONNECT, as AWS does: iot:Publish on its topic, and
// iot:RetainPublish too when it is retained.
func (a *Authorizer) willAllowed(cl *mqtt.Client, c *auth.Compiled) (string, bool) {
	will := cl.Properties.Will
	if will.Flag == 0 {
		return "", true
	}
	if d := c.Decide(auth.ActionPublish, "topic", will.TopicName); !d.Allowed {
		return "will message refused: " + c.Explain(auth.ActionPublish, "topic", will.TopicName).Reason, false
	}
	if will.Retain && !c.Decide(auth.ActionRetainPublish, "topic", will.TopicName).Allowed {
		return "retained will message refused: " + c.Explain(auth.ActionRetainPublish, "topic", will.TopicName).Reason, false
	}
	return "", true
}

// OnConnectAuthenticate admits the clients OnConnect accepted. Mochi ORs this hook across all
// hooks and denies when none provides it, so it must be provided.
func (a *Authorizer) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return a.sessions.of(cl) != nil
}

// OperationRefused is the cause recorded when the authorizer closes a connection because of a
// refused PUBLISH or SUBSCRIBE (profile aws); lifecycle events report it as AUTH_ERROR.
type OperationRefused struct{ Reason string }

func (e *OperationRefused) Error() string { return e.Reason }

// Unwrap makes Mochi treat the error as a rejected packet, which ends the connection.
func (e *OperationRefused) Unwrap() error { return packets.ErrRejectPacket }

// OnPacketRead decides PUBLISH and SUBSCRIBE packets as they arrive, before Mochi processes them,
// so that each can get AWS's reaction: under profile aws an MQTT 3.1.1 connection is closed (no
// DISCONNECT, which 3.1.1 servers never send), an MQTT 5 QoS 0 publish gets DISCONNECT 0x87.
// Refused MQTT 5 QoS 1 publishes and refused filters are answered by Mochi's ACL path (PUBACK /
// SUBACK 0x87; SUBACK 0x80 for MQTT 3.1.1 under profile mqtt).
func (a *Authorizer) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, a.read(cl, &pk)
}

// read is OnPacketRead on the packet in place (see ReadDispatch); it never changes the packet
// and its errors are rejections.
func (a *Authorizer) read(cl *mqtt.Client, pk *packets.Packet) error {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return a.readPublish(cl, pk)
	case packets.Subscribe:
		return a.readSubscribe(cl, pk)
	}
	return nil
}

func (a *Authorizer) readPublish(cl *mqtt.Client, pk *packets.Packet) error {
	s := a.sessions.of(cl)
	if s == nil {
		return nil
	}
	c := s.policy.Load()
	action := auth.ActionPublish
	allowed := c.Decide(action, "topic", pk.TopicName).Allowed
	if allowed && pk.FixedHeader.Retain {
		action = auth.ActionRetainPublish
		allowed = c.Decide(action, "topic", pk.TopicName).Allowed
	}
	s.publishRefused = !allowed
	if allowed {
		return nil
	}
	reason := c.Explain(action, "topic", pk.TopicName).Reason
	a.log.Warn("publish refused", "client", cl.ID, "topic", pk.TopicName, "certificate", s.who.env.CertificateID, "reason", reason)
	recordRefusal(cl, "publish to "+pk.TopicName+" refused: "+reason)
	if a.opts.Profile != "aws" {
		return nil
	}
	switch {
	case cl.Properties.ProtocolVersion < 5:
		return &OperationRefused{Reason: "publish to " + pk.TopicName + " refused: " + reason}
	case pk.FixedHeader.Qos == 0:
		if a.opts.Server != nil {
			_ = a.opts.Server.DisconnectClient(cl, packets.ErrNotAuthorized)
		}
		return &OperationRefused{Reason: "publish to " + pk.TopicName + " refused: " + reason}
	}
	return nil
}

func (a *Authorizer) readSubscribe(cl *mqtt.Client, pk *packets.Packet) error {
	s := a.sessions.of(cl)
	if s == nil {
		return nil
	}
	pending := make(map[string]bool, len(pk.Filters))
	c := s.policy.Load()
	var refused []string
	for _, f := range pk.Filters {
		allowed := c.Decide(auth.ActionSubscribe, "topicfilter", f.Filter).Allowed && !basicIngestFilter(f.Filter)
		if !allowed {
			reason := basicIngestRefusal
			if !basicIngestFilter(f.Filter) {
				reason = c.Explain(auth.ActionSubscribe, "topicfilter", f.Filter).Reason
			}
			a.log.Warn("subscribe refused", "client", cl.ID, "filter", f.Filter, "certificate", s.who.env.CertificateID, "reason", reason)
			refused = append(refused, f.Filter+": "+reason)
		}
		pending[f.Filter] = allowed
	}
	if len(refused) > 0 {
		recordRefusal(cl, "subscribe refused: "+strings.Join(refused, "; "))
	}
	if len(refused) > 0 && a.opts.Profile == "aws" && cl.Properties.ProtocolVersion < 5 {
		return &OperationRefused{Reason: "subscribe refused: " + strings.Join(refused, "; ")}
	}
	s.setPending(pending)
	return nil
}

// basicIngestRefusal explains a refused subscription to a Basic Ingest topic: AWS IoT Core gives
// $aws/rules/<rule>/... messages to their rule only, so nothing can subscribe to them, whatever
// the policy allows.
const basicIngestRefusal = "Basic Ingest topics ($aws/rules/...) go to their rule only; AWS IoT Core refuses subscriptions to them"

// basicIngestFilter reports whether a topic filter is under $aws/rules/ (any case of the
// share prefix aside: a shared subscription names its filter after $share/<group>/).
func basicIngestFilter(filter string) bool {
	if rest, ok := strings.CutPrefix(strings.ToLower(filter), "$share/"); ok {
		if _, f, ok := strings.Cut(rest, "/"); ok {
			filter = f
		}
	}
	return strings.HasPrefix(filter, "$aws/rules/")
}

// OnPublish acknowledges and drops a refused MQTT 3.1.1 publish under profile mqtt, one of the
// two reactions MQTT 3.1.1 allows [MQTT-3.3.5-2].
func (a *Authorizer) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if s := a.sessions.of(cl); s != nil && s.publishRefused {
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// OnSubscribed ends the subscribe window opened by OnPacketRead.
func (a *Authorizer) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	if s := a.sessions.of(cl); s != nil {
		s.setPending(nil)
		a.updateParents(cl, s)
	}
}

// OnUnsubscribed keeps the parent-level filter set in step with the subscriptions.
func (a *Authorizer) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if s := a.sessions.of(cl); s != nil {
		a.updateParents(cl, s)
	}
}

// updateParents records, under profile aws, the parent topics of the client's "x/#" filters: AWS
// documents that "sensor/#" does not match "sensor", where MQTT says it does.
func (a *Authorizer) updateParents(cl *mqtt.Client, s *session) {
	if a.opts.Profile != "aws" {
		return
	}
	var parents map[string]struct{}
	for filter := range cl.State.Subscriptions.GetAll() {
		if parent, ok := strings.CutSuffix(filter, "/#"); ok && !strings.ContainsAny(parent, "+#") {
			if parents == nil {
				parents = map[string]struct{}{}
			}
			parents[parent] = struct{}{}
		}
	}
	if parents == nil {
		s.parents.Store(nil)
		return
	}
	s.parents.Store(&parents)
}

// parentOnly reports whether a delivery of topic reaches the client only as the parent level of
// one of its "#" filters.
func parentOnly(cl *mqtt.Client, s *session, topic string) bool {
	parents := s.parents.Load()
	if parents == nil {
		return false
	}
	if _, ok := (*parents)[topic]; !ok {
		return false
	}
	for filter := range cl.State.Subscriptions.GetAll() {
		if filter != topic+"/#" && filterMatches(filter, topic) {
			return false
		}
	}
	return true
}

// OnACLCheck answers Mochi with the iot:Publish decision made in OnPacketRead (write) and, for
// reads, the iot:Subscribe decision for a filter of the SUBSCRIBE being processed or iot:Receive
// on a delivered topic.
func (a *Authorizer) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	s := a.sessions.current(cl)
	if s == nil {
		if s = a.restore(cl); s == nil {
			return false
		}
	}
	c := s.policy.Load()
	if write {
		// Decided in OnPacketRead; profile mqtt answers a refused 3.1.1 publish in OnPublish.
		if s.publishRefused && a.opts.Profile != "aws" && cl.Properties.ProtocolVersion < 5 {
			return true
		}
		return !s.publishRefused
	}
	if allowed, ok := s.subscribeDecision(topic); ok {
		return allowed
	}
	if strings.HasPrefix(topic, "$") && !dollarDeliverable(cl, topic) {
		return false
	}
	if parentOnly(cl, s, topic) {
		return false
	}
	return c.Decide(auth.ActionReceive, "topic", topic).Allowed
}

// dollarDeliverable reports whether a $ topic may reach the client: $SYS never (AWS IoT has none),
// and others only through a subscription whose first level is not a wildcard [MQTT-4.7.2-1].
// Mochi applies that rule to live messages but not to retained ones sent on subscribe.
func dollarDeliverable(cl *mqtt.Client, topic string) bool {
	if strings.HasPrefix(topic, "$SYS") {
		return false
	}
	for filter := range cl.State.Subscriptions.GetAll() {
		if filter != "" && filter[0] != '+' && filter[0] != '#' && filterMatches(filter, topic) {
			return true
		}
	}
	return false
}

// filterMatches reports whether an MQTT topic filter matches a topic name.
func filterMatches(filter, topic string) bool {
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		tl, trest, tmore := strings.Cut(topic, "/")
		switch {
		case fl == "#":
			return true
		case fl != "+" && fl != tl:
			return false
		case !fmore && !tmore:
			return true
		case !fmore:
			return false
		case !tmore:
			return frest == "#"
		}
		filter, topic = frest, trest
	}
}

// restore rebuilds the authorization state of an offline session restored from storage, from the
// certificate it connected with. Certificate variables do not resolve (the certificate itself is
// not kept); everything else does.
func (a *Authorizer) restore(cl *mqtt.Client) *session {
	if a.opts.StoredCertificate == nil || !cl.Closed() {
		return nil
	}
	certID, ok := a.opts.StoredCertificate(cl.ID)
	if !ok {
		return nil
	}
	base := auth.Environment{Partition: "aws", Region: a.opts.Region, Account: a.opts.Account, PersistentConnect: true}
	who, policies, err := resolvePrincipal(a.opts.Directory, certID, cl.ID, base)
	if err != nil {
		a.log.Info("restored session has no usable certificate", "client", cl.ID, "reason", err)
		return nil
	}
	s := &session{client: cl, who: who}
	s.policy.Store(compile(policies, who.env))
	if current := a.sessions.putIfAbsent(s); current.client != cl {
		return nil // the client has reconnected meanwhile
	}
	return s
}

// OnDisconnect forgets a clean session's authorization state; persistent sessions keep it for
// the messages queued while they are offline.
func (a *Authorizer) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	a.stopLifetime(cl)
	recordDisconnect(cl, err)
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
				s.client.Stop(&CertificateInactive{Reason: fmt.Sprintf("certificate %s is %s", ev.CertificateID, statusText(ev))})
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
	if s.who.recompile != nil {
		s.policy.Store(s.who.recompile())
		return
	}
	view, err := a.opts.Directory.CertificateIdentity(s.who.env.CertificateID)
	if err != nil {
		a.log.Warn("cannot refresh policies", "client", s.client.ID, "error", err)
		return
	}
	s.policy.Store(compile(auth.PoliciesInForce(view, s.who.env.ThingName), s.who.env))
}

// Principal describes who is behind a connection, for lifecycle events.
type Principal struct {
	CertificateID string
	ThingName     string // set only for an EXCLUSIVE_THING attachment, as AWS reports it
	// Identifier is the principal of a connection without certificate (an access key, a Cognito
	// identity id, a custom authorizer's principalId); "" for certificate connections.
	Identifier string
}

// ID is the principalIdentifier lifecycle events report.
func (p Principal) ID() string {
	if p.Identifier != "" {
		return p.Identifier
	}
	return p.CertificateID
}

// PrincipalOf returns the principal of a connection the authorizer admitted.
func (a *Authorizer) PrincipalOf(cl *mqtt.Client) (Principal, bool) {
	s := a.sessions.get(cl.ID)
	if s == nil {
		return Principal{}, false
	}
	return Principal{CertificateID: s.who.env.CertificateID, ThingName: s.who.exclusiveThing, Identifier: s.who.identifier}, true
}

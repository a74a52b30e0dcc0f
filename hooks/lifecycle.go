package hooks

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// AWS IoT's lifecycle event topics.
const (
	topicConnected     = "$aws/events/presence/connected/"
	topicDisconnected  = "$aws/events/presence/disconnected/"
	topicConnectFailed = "$aws/events/presence/connect_failed/"
	topicSubscribed    = "$aws/events/subscriptions/subscribed/"
	topicUnsubscribed  = "$aws/events/subscriptions/unsubscribed/"
)

// versionReset is how long a client id stays disconnected before its versionNumber starts again
// at 0, as AWS documents (about an hour).
const versionReset = time.Hour

// LifecycleOptions configure the Lifecycle hook.
type LifecycleOptions struct {
	Server     *mqtt.Server // publishes the events through its inline client
	Principals interface {
		PrincipalOf(cl *mqtt.Client) (Principal, bool)
	}
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger
	// OnPresence, when set, is told each connected and disconnected event (fleet indexing's
	// connectivity follows it): one call per connect and disconnect, never per message.
	OnPresence func(Presence)
	// Observed, when set, reports whether anything can receive a connected or disconnected event
	// published on topic now (a subscription matches, or the rules engine has an enabled rule);
	// when it reports false the event is neither encoded nor published, as publishing it would
	// reach no one. Fleet indexing's OnPresence is told all the same.
	Observed func(topic string) bool
}

// Presence is one connected or disconnected event, as OnPresence receives it.
type Presence struct {
	ClientID         string
	Connected        bool
	Timestamp        int64 // epoch milliseconds
	DisconnectReason string
	Version          int64 // the event's versionNumber
}

// Lifecycle publishes AWS IoT's lifecycle events: presence (connected, disconnected,
// connect_failed) and subscriptions (subscribed, unsubscribed), with AWS's fields.
type Lifecycle struct {
	mqtt.HookBase
	opts LifecycleOptions
	log  *slog.Logger

	mu       sync.Mutex
	versions map[string]*clientVersion // client id → versionNumber state
	live     map[string]*connection    // client id → its current connection
	conns    sync.Map                  // *mqtt.Client → *connection
}

// clientVersion is the versionNumber of one client id.
type clientVersion struct {
	number       int64
	connected    int // live connections with this id
	disconnected time.Time
}

// connection is what the events of one connection share.
type connection struct {
	sessionOnce sync.Once
	session     string // made by sessionID when an event first needs it
	version     int64
	principal   Principal
	takenOver   atomic.Bool // a newer connection with the same client id replaced it
}

// sessionID is the connection's sessionIdentifier, a random UUID made when the first event that
// carries it is published (none is when nothing receives the events).
func (c *connection) sessionID() string {
	c.sessionOnce.Do(func() { c.session = uuid.NewString() })
	return c.session
}

// NewLifecycle returns the hook; add it after the Authorizer.
func NewLifecycle(opts LifecycleOptions) *Lifecycle {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Lifecycle{opts: opts, log: log, versions: map[string]*clientVersion{}, live: map[string]*connection{}}
}

// ID names the hook.
func (l *Lifecycle) ID() string { return "iotcore-lifecycle" }

// lifecycleEvents are the events the Lifecycle hook handles.
var lifecycleEvents = newEventSet(
	mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
)

// Provides reports whether the hook handles event b.
func (l *Lifecycle) Provides(b byte) bool { return lifecycleEvents.has(b) }

// OnSessionEstablish marks the connection a new one replaces. Mochi runs it before it closes the
// old connection, so the old connection's disconnected event reliably says DUPLICATE_CLIENTID.
func (l *Lifecycle) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	l.mu.Lock()
	if old := l.live[cl.ID]; old != nil {
		old.takenOver.Store(true)
	}
	l.mu.Unlock()
}

// eventsFor reports whether a client id gets events: AWS sends none for ids with MQTT wildcards.
func eventsFor(cl *mqtt.Client) bool {
	return !cl.Net.Inline && !strings.ContainsAny(cl.ID, "+#")
}

// OnSessionEstablished publishes connected once the CONNACK is sent. Connected and disconnected of
// one connection are published from that connection's own goroutine, so connected always comes
// first, takeovers included.
func (l *Lifecycle) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if !eventsFor(cl) {
		return
	}
	p, _ := l.opts.Principals.PrincipalOf(cl)
	now := l.opts.Now()
	l.mu.Lock()
	v := l.versions[cl.ID]
	switch {
	case v == nil:
		v = &clientVersion{}
		l.versions[cl.ID] = v
	case v.connected == 0 && now.Sub(v.disconnected) > versionReset:
		v.number = 0
	default:
		v.number++
	}
	v.connected++
	c := &connection{version: v.number, principal: p}
	l.live[cl.ID] = c
	l.mu.Unlock()
	l.conns.Store(cl, c)
	if l.opts.OnPresence != nil {
		l.opts.OnPresence(Presence{ClientID: cl.ID, Connected: true, Timestamp: now.UnixMilli(), Version: c.version})
	}
	topic := topicConnected + cl.ID
	if !l.observed(topic) {
		return
	}
	l.publishPresence(topic, &presenceEvent{
		ClientID: cl.ID, ThingName: p.ThingName, Timestamp: now.UnixMilli(), EventType: "connected",
		SessionIdentifier: c.sessionID(), PrincipalIdentifier: p.ID(),
		IPAddress: remoteIP(cl.Net.Remote), VersionNumber: c.version,
	})
}

// OnDisconnect publishes disconnected with the reason AWS would give.
func (l *Lifecycle) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	v, ok := l.conns.LoadAndDelete(cl)
	if !ok {
		return
	}
	c := v.(*connection)
	now := l.opts.Now()
	l.mu.Lock()
	if cv := l.versions[cl.ID]; cv != nil {
		cv.connected--
		cv.disconnected = now
	}
	if l.live[cl.ID] == c {
		delete(l.live, cl.ID)
	}
	l.mu.Unlock()
	reason := DisconnectReason(cl, err)
	if c.takenOver.Load() {
		reason = "DUPLICATE_CLIENTID"
	}
	clientInitiated := reason == "CLIENT_INITIATED_DISCONNECT"
	if l.opts.OnPresence != nil {
		l.opts.OnPresence(Presence{ClientID: cl.ID, Timestamp: now.UnixMilli(), DisconnectReason: reason, Version: c.version})
	}
	topic := topicDisconnected + cl.ID
	if !l.observed(topic) {
		return
	}
	l.publishPresence(topic, &presenceEvent{
		ClientID: cl.ID, ThingName: c.principal.ThingName, Timestamp: now.UnixMilli(), EventType: "disconnected",
		SessionIdentifier: c.sessionID(), PrincipalIdentifier: c.principal.ID(),
		ClientInitiatedDisconnect: &clientInitiated, DisconnectReason: reason, VersionNumber: c.version,
	})
}

// ConnectFailed publishes connect_failed for a CONNECT refused by authorization.
func (l *Lifecycle) ConnectFailed(cl *mqtt.Client) {
	if !eventsFor(cl) {
		return
	}
	l.publish(topicConnectFailed+cl.ID, connectFailedEvent{
		ClientID: cl.ID, Timestamp: l.opts.Now().UnixMilli(), EventType: "connect_failed",
		ConnectFailureReason: "AUTHORIZATION_FAILED",
	})
}

// OnSubscribed publishes subscribed with the filters that were granted.
func (l *Lifecycle) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	var topics []string
	for i, f := range pk.Filters {
		if i < len(reasonCodes) && reasonCodes[i] < 0x80 {
			topics = append(topics, f.Filter)
		}
	}
	l.subscriptionEvent(cl, topicSubscribed, "subscribed", topics)
}

// OnUnsubscribed publishes unsubscribed with the filters of the UNSUBSCRIBE.
func (l *Lifecycle) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	topics := make([]string, 0, len(pk.Filters))
	for _, f := range pk.Filters {
		topics = append(topics, f.Filter)
	}
	l.subscriptionEvent(cl, topicUnsubscribed, "unsubscribed", topics)
}

func (l *Lifecycle) subscriptionEvent(cl *mqtt.Client, prefix, eventType string, topics []string) {
	v, ok := l.conns.Load(cl)
	if !ok || len(topics) == 0 {
		return
	}
	c := v.(*connection)
	l.publish(prefix+cl.ID, subscriptionEvent{
		ClientID: cl.ID, ThingName: c.principal.ThingName, Timestamp: l.opts.Now().UnixMilli(), EventType: eventType,
		SessionIdentifier: c.sessionID(), PrincipalIdentifier: c.principal.ID(), Topics: topics,
	})
}

func (l *Lifecycle) publish(topic string, event any) {
	payload, err := json.Marshal(event)
	if err != nil {
		l.log.Error("encode lifecycle event", "topic", topic, "error", err)
		return
	}
	l.publishBody(topic, payload)
}

// publishPresence publishes a connected or disconnected event (appendPresence: json.Marshal's
// bytes without its reflection).
func (l *Lifecycle) publishPresence(topic string, event *presenceEvent) {
	l.publishBody(topic, appendPresence(make([]byte, 0, 320), event))
}

func (l *Lifecycle) publishBody(topic string, payload []byte) {
	if err := l.opts.Server.Publish(topic, payload, false, 1); err != nil {
		l.log.Warn("publish lifecycle event", "topic", topic, "error", err)
	}
}

// observed reports whether anything can receive an event published on topic (Observed;
// true when the option is not set).
func (l *Lifecycle) observed(topic string) bool {
	return l.opts.Observed == nil || l.opts.Observed(topic)
}

// presenceEvent is the body of connected and disconnected events.
type presenceEvent struct {
	ClientID                  string `json:"clientId"`
	ThingName                 string `json:"thingName,omitempty"`
	Timestamp                 int64  `json:"timestamp"`
	EventType                 string `json:"eventType"`
	SessionIdentifier         string `json:"sessionIdentifier"`
	PrincipalIdentifier       string `json:"principalIdentifier"`
	IPAddress                 string `json:"ipAddress,omitempty"`
	ClientInitiatedDisconnect *bool  `json:"clientInitiatedDisconnect,omitempty"`
	DisconnectReason          string `json:"disconnectReason,omitempty"`
	VersionNumber             int64  `json:"versionNumber"`
}

type connectFailedEvent struct {
	ClientID             string `json:"clientId"`
	Timestamp            int64  `json:"timestamp"`
	EventType            string `json:"eventType"`
	ConnectFailureReason string `json:"connectFailureReason"`
}

type subscriptionEvent struct {
	ClientID            string   `json:"clientId"`
	ThingName           string   `json:"thingName,omitempty"`
	Timestamp           int64    `json:"timestamp"`
	EventType           string   `json:"eventType"`
	SessionIdentifier   string   `json:"sessionIdentifier"`
	PrincipalIdentifier string   `json:"principalIdentifier"`
	Topics              []string `json:"topics"`
}

// CertificateInactive is the cause recorded when a connection is dropped because its certificate
// stopped being ACTIVE or was deleted.
type CertificateInactive struct{ Reason string }

func (e *CertificateInactive) Error() string { return e.Reason }

// DisconnectReason maps how a connection ended to AWS's disconnectReason values.
func DisconnectReason(cl *mqtt.Client, err error) string {
	if cl.IsTakenOver() {
		return "DUPLICATE_CLIENTID"
	}
	// The stop cause is what ended the connection; err is often just the read that failed after.
	cause := cl.StopCause()
	if cause == nil {
		cause = err
	}
	// The common ends first, without errors.As (whose targets escape, seven allocations per
	// call): a packets.Code itself (a DISCONNECT, a takeover, a keep-alive timeout) is none of
	// the other kinds below, so its reason is the one the chain would give.
	if code, ok := cause.(packets.Code); ok {
		return codeReason(code)
	}
	// Causes from other packages (the HTTP API's DeleteConnection) name their own reason.
	var named interface{ DisconnectReason() string }
	if errors.As(cause, &named) {
		return named.DisconnectReason()
	}
	var refused *OperationRefused
	var inactive *CertificateInactive
	var code packets.Code
	var netErr net.Error
	switch {
	case cause == nil:
		return "CONNECTION_LOST"
	case errors.As(cause, &refused), errors.As(cause, &inactive):
		return "AUTH_ERROR"
	case errors.As(cause, new(*ProtocolLimit)), errors.As(cause, new(*ProtocolViolation)):
		return "CLIENT_ERROR"
	case errors.As(cause, &code):
		return codeReason(code)
	case errors.As(cause, &netErr) && netErr.Timeout():
		return "MQTT_KEEP_ALIVE_TIMEOUT"
	case errors.Is(cause, io.EOF), errors.Is(cause, net.ErrClosed), errors.Is(cause, io.ErrUnexpectedEOF):
		return "CONNECTION_LOST"
	}
	return "CONNECTION_LOST"
}

// codeReason is the disconnectReason of a connection ended by an MQTT reason code.
func codeReason(code packets.Code) string {
	switch code.Code {
	case packets.CodeDisconnect.Code, packets.CodeDisconnectWillMessage.Code:
		return "CLIENT_INITIATED_DISCONNECT"
	case packets.ErrSessionTakenOver.Code:
		return "DUPLICATE_CLIENTID"
	case packets.ErrServerShuttingDown.Code:
		return "SERVER_INITIATED_DISCONNECT"
	case packets.ErrKeepAliveTimeout.Code:
		return "MQTT_KEEP_ALIVE_TIMEOUT"
	}
	return "CLIENT_ERROR"
}

// remoteIP is the address part of a remote "host:port".
func remoteIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

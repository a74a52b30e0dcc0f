package hooks

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// AWS IoT Core's documented limits (reference: aws-iot-connection §2).
const (
	MaxClientIDBytes = 128
	MaxTopicBytes    = 256
	MaxTopicSlashes  = 7
	MaxPayloadBytes  = 128 * 1024
	// MaxPacketBytes is the largest MQTT packet accepted after CONNECT: a PUBLISH with the
	// largest payload, plus room for its fixed header, topic (≤ 256 bytes), packet id and MQTT 5
	// properties (up to ~7.5 KiB of them). A longer claim ends the connection before its body
	// is read; MQTT 5 clients learn the limit from CONNACK's Maximum Packet Size.
	MaxPacketBytes          = MaxPayloadBytes + 8*1024
	MaxFiltersPerSubscribe  = 8
	MaxSubscriptionsPerConn = 50
	MinKeepAlive            = 30
	MaxKeepAlive            = 1200
)

// ProfileOptions configure the Profile hook.
type ProfileOptions struct {
	// AWS selects AWS IoT Core's behaviour; false is strict MQTT.
	AWS bool
	// SessionExpiry is how long an MQTT 3.1.1 persistent session outlives its connection
	// (AWS: one hour by default). MQTT 5 sessions use their own Session Expiry Interval.
	SessionExpiry time.Duration
	// Throttle turns on AWS's per-connection rate limits (off by default).
	Throttle bool
	Server   *mqtt.Server
	// OnExpired is told about each MQTT 3.1.1 session the profile expires (the store forgets it).
	OnExpired func(cl *mqtt.Client)
	Logger    *slog.Logger
}

// Profile is the Mochi hook that gives the broker one of the emulator's behaviour profiles:
// AWS IoT Core's documented deviations from MQTT 3.1.1 (profile aws) or MQTT exactness (profile
// mqtt). Both profiles also get fixes for Mochi's MQTT 3.1.1 bugs: v3 CONNACK codes, and no
// DISCONNECT packet ever sent to a 3.1.1 client.
type Profile struct {
	mqtt.HookBase
	opts ProfileOptions
	log  *slog.Logger
	// readDispatched: a ReadDispatch runs the OnPacketRead check (set before the hook is added).
	readDispatched bool

	clients sync.Map // *mqtt.Client → *clientState
	// Profile-wide counts that let the message path skip work while nothing needs it (the usual
	// case): connections whose PUBLISH being processed needs the profile's OnPublish (marked:
	// while none does, the profile does not provide OnPublish), connections with a packet-id
	// alias in use (packetIDs), and resumed sessions with resends still to reorder
	// (resendOrder); OnPacketEncode looks up the connection's state only for those.
	marked   atomic.Int64
	aliased  atomic.Int64
	resends  atomic.Int64
	connects sync.Map // client id → time of its last CONNECT (throttle)
	gate     connectGate
	stop     chan struct{}
	done     chan struct{}
}

// clientState is what the profile tracks per connection; only its read goroutine writes it.
type clientState struct {
	established chan struct{} // closed when the session is established: leaves the connect gate
	leaveGate   func()        // or, on a connection that calls it when it ends, this leaves it
	dropPublish bool          // the PUBLISH being processed is to be ignored (QoS 2, or throttled)
	marked      bool          // the PUBLISH being processed needs OnPublish (dropped, or retained)
	bucket      tokenBucket
	bytes       tokenBucket
	ids         packetIDs   // shared with the write path: locked inside
	resend      resendOrder // shared with the write path: locked inside
}

// NewProfile returns the hook; add it before the Authorizer so protocol limits come first.
func NewProfile(opts ProfileOptions) *Profile {
	if opts.SessionExpiry <= 0 {
		opts.SessionExpiry = time.Hour
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Profile{opts: opts, log: log}
}

// ID names the hook.
func (p *Profile) ID() string { return "iotcore-profile" }

// profileEvents are the events the Profile hook handles.
var profileEvents = newEventSet(
	mqtt.OnStarted, mqtt.OnStopped, mqtt.OnConnect, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketRead,
	mqtt.OnPacketEncode, mqtt.OnPublish, mqtt.OnSubscribe,
)

// Provides reports whether the hook handles event b.
// OnPublish is provided under profile aws only, the only profile where it does something, and
// only while a connection's PUBLISH being processed needs it (readPublish marks a PUBLISH to be
// dropped, and every retained one; OnPublish takes the mark off): Mochi asks Provides on the
// publishing connection's goroutine after that PUBLISH was read, so it sees its mark.
func (p *Profile) Provides(b byte) bool {
	switch b {
	case mqtt.OnPublish:
		return p.opts.AWS && p.marked.Load() != 0
	case mqtt.OnPacketRead:
		return !p.readDispatched // ReadDispatch runs the check
	}
	return profileEvents.has(b)
}

// DefaultWriteQueue is the default length of each connection's outbound queue (Capabilities).
const DefaultWriteQueue = 8192

// Capabilities adjusts the server capabilities for the profile: AWS IoT Core supports QoS 0 and 1
// and MQTT 5 sessions of up to 7 days; MQTT 3.1.1 session expiry is enforced by the profile.
// writeQueue is the length of each connection's outbound queue (0 for DefaultWriteQueue);
// maxPacket the largest packet a client may send (0 for MaxPacketBytes).
func Capabilities(aws bool, sessionExpiry time.Duration, writeQueue, maxPacket int) *mqtt.Capabilities {
	caps := mqtt.NewDefaultServerCapabilities()
	if maxPacket <= 0 {
		maxPacket = MaxPacketBytes
	}
	caps.MaximumPacketSize = uint32(maxPacket)
	caps.MaximumMessageExpiryInterval = 0 // keep retained and queued messages
	// Each connection's outbound queue in Mochi: packets routed to the client and not yet
	// written. A full queue drops what is routed next, QoS 1 included (Mochi has no flow control
	// towards MQTT 3.1.1 clients), so it must absorb the bursts of a fan-in subscriber. Mochi
	// allocates it whole at connect, 8 bytes a slot; an idle connection never touches it, but the
	// GC counts it as live heap and lets that much garbage more accumulate before collecting.
	// BENCHMARKS.md ("Write queue") has the measurements behind the default, Mochi's own.
	if writeQueue <= 0 {
		writeQueue = DefaultWriteQueue
	}
	caps.MaximumClientWritesPending = int32(writeQueue)
	if aws {
		caps.MaximumQos = 1
		caps.MaximumSessionExpiryInterval = 7 * 24 * 3600
		caps.TopicAliasMaximum = 8
		caps.SubIDAvailable = 0
	} else {
		caps.MaximumSessionExpiryInterval = uint32(sessionExpiry / time.Second)
	}
	return caps
}

// ProtocolLimit is the cause recorded when the profile closes a connection for breaking one of
// AWS IoT Core's protocol limits; lifecycle events report it as CLIENT_ERROR.
type ProtocolLimit struct{ Reason string }

func (e *ProtocolLimit) Error() string { return e.Reason }

// Unwrap makes Mochi treat the error as a rejected packet, which ends the connection.
func (e *ProtocolLimit) Unwrap() error { return packets.ErrRejectPacket }

// limit logs a broken limit and returns the error that closes the connection. MQTT 5 clients get
// a DISCONNECT with the code first (a CONNACK with it when the CONNECT itself broke the limit).
func (p *Profile) limit(cl *mqtt.Client, code packets.Code, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	p.log.Warn("connection closed: AWS IoT Core limit", "client", cl.ID, "remote", cl.Net.Remote, "reason", reason)
	if cl.Properties.ProtocolVersion == 5 && p.opts.Server != nil {
		_ = p.opts.Server.DisconnectClient(cl, code)
	}
	return &ProtocolLimit{Reason: reason}
}

// refuseConnect is limit for a CONNECT: MQTT 5 clients get CONNACK with the code, 3.1.1 clients
// nothing, as AWS does.
func (p *Profile) refuseConnect(cl *mqtt.Client, pk packets.Packet, code packets.Code, format string, args ...any) error {
	reason := fmt.Sprintf(format, args...)
	p.log.Warn("connection refused: AWS IoT Core limit", "client", pk.Connect.ClientIdentifier, "remote", cl.Net.Remote, "reason", reason)
	if pk.ProtocolVersion == 5 && p.opts.Server != nil {
		cl.Properties.ProtocolVersion = 5
		_ = p.opts.Server.SendConnack(cl, code, false, nil)
	}
	return &ProtocolLimit{Reason: reason}
}

// OnPacketRead checks each packet as it arrives: MQTT's own rules that Mochi does not enforce
// (both profiles), the separation of client and server packet ids (both profiles), and AWS IoT
// Core's limits (profile aws).
func (p *Profile) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := p.read(cl, &pk)
	return pk, err
}

// read is OnPacketRead on the packet in place (see ReadDispatch): it changes the packet (a
// server-owned packet id given an alias) only on its way to a nil error; its errors are
// rejections.
func (p *Profile) read(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	if pk.FixedHeader.Type == packets.Connect {
		if err := p.checkConnect311(cl, *pk); err != nil {
			return err
		}
		if p.opts.AWS {
			return p.readConnect(cl, *pk)
		}
		return nil
	}
	if err := p.checkFraming(cl, pk); err != nil {
		return err
	}
	switch pk.FixedHeader.Type {
	case packets.Publish, packets.Subscribe, packets.Unsubscribe, packets.Pubrel:
	default: // acknowledgements and pings: nothing more to check
		return nil
	}
	st := p.state(cl)
	st.ids.inbound(cl, pk, &p.aliased)
	if !p.opts.AWS {
		return nil
	}
	switch pk.FixedHeader.Type {
	case packets.Publish:
		return p.readPublish(cl, st, pk)
	case packets.Subscribe:
		return p.readSubscribe(cl, pk)
	}
	return nil
}

func (p *Profile) readConnect(cl *mqtt.Client, pk packets.Packet) error {
	id := pk.Connect.ClientIdentifier
	switch {
	case len(id) > MaxClientIDBytes:
		return p.refuseConnect(cl, pk, packets.ErrClientIdentifierNotValid, "client id of %d bytes exceeds %d", len(id), MaxClientIDBytes)
	case strings.HasPrefix(id, "$"):
		return p.refuseConnect(cl, pk, packets.ErrClientIdentifierNotValid, "client id %q starts with $, which AWS reserves", id)
	case pk.Connect.WillFlag && pk.Connect.WillQos > 1:
		return p.refuseConnect(cl, pk, packets.ErrQosNotSupported, "will QoS %d is not supported (QoS 0 and 1 only)", pk.Connect.WillQos)
	case pk.Connect.WillFlag:
		if reason := topicLimit(pk.Connect.WillTopic); reason != "" {
			return p.refuseConnect(cl, pk, packets.ErrTopicNameInvalid, "will %s", reason)
		}
	}
	if p.opts.Throttle && id != "" {
		now := time.Now()
		if last, ok := p.connects.Swap(id, now); ok && now.Sub(last.(time.Time)) < time.Second {
			return p.refuseConnect(cl, pk, packets.ErrConnectionRateExceeded, "more than one CONNECT per second for client id %q", id)
		}
	}
	return nil
}

func (p *Profile) readPublish(cl *mqtt.Client, st *clientState, pk *packets.Packet) error {
	st.dropPublish = false
	p.mark(st, pk.FixedHeader.Retain)
	if reason := topicLimit(pk.TopicName); reason != "" {
		return p.limit(cl, packets.ErrTopicNameInvalid, "publish %s", reason)
	}
	if len(pk.Payload) > MaxPayloadBytes {
		return p.limit(cl, packets.ErrPacketTooLarge, "payload of %d bytes exceeds %d", len(pk.Payload), MaxPayloadBytes)
	}
	if pk.FixedHeader.Qos == 2 {
		p.log.Warn("QoS 2 publish ignored (AWS IoT Core supports QoS 0 and 1)", "client", cl.ID, "topic", pk.TopicName)
		st.dropPublish = true
		p.mark(st, true)
		return nil
	}
	if p.opts.Throttle {
		now := time.Now()
		if !st.bucket.take(now, 100, 1) {
			p.log.Warn("publish discarded: over 100 publishes per second", "client", cl.ID, "topic", pk.TopicName)
			st.dropPublish = true
			p.mark(st, true)
			return nil
		}
		if wait := st.bytes.delay(now, 512*1024, float64(len(pk.Payload))); wait > 0 {
			time.Sleep(wait) // AWS delays traffic over 512 KiB/s per connection
		}
	}
	return nil
}

func (p *Profile) readSubscribe(cl *mqtt.Client, pk *packets.Packet) error {
	if len(pk.Properties.SubscriptionIdentifier) > 0 {
		return p.limit(cl, packets.ErrSubscriptionIdentifiersNotSupported, "subscription identifiers are not supported")
	}
	if n := len(pk.Filters); n > MaxFiltersPerSubscribe {
		return p.limit(cl, packets.ErrQuotaExceeded, "SUBSCRIBE with %d topic filters exceeds %d", n, MaxFiltersPerSubscribe)
	}
	total := cl.State.Subscriptions.Len()
	for _, f := range pk.Filters {
		if reason := topicLimit(f.Filter); reason != "" {
			return p.limit(cl, packets.ErrTopicFilterInvalid, "subscribe %s", reason)
		}
		if _, ok := cl.State.Subscriptions.Get(f.Filter); !ok {
			total++
		}
	}
	if total > MaxSubscriptionsPerConn {
		return p.limit(cl, packets.ErrQuotaExceeded, "%d subscriptions exceed %d per connection", total, MaxSubscriptionsPerConn)
	}
	return nil
}

// topicLimit explains why a topic name or filter breaks AWS's size and depth limits, or is "".
// The Basic Ingest prefix $aws/rules/<rule>/ and a shared subscription's $share/<group>/ do not
// count.
func topicLimit(topic string) string {
	rest := topic
	for _, prefix := range []string{"$aws/rules/", "$share/", "$SHARE/"} {
		if strings.HasPrefix(rest, prefix) {
			if i := strings.IndexByte(rest[len(prefix):], '/'); i >= 0 {
				rest = rest[len(prefix)+i+1:]
			}
			break
		}
	}
	if len(rest) > MaxTopicBytes {
		return fmt.Sprintf("topic of %d bytes exceeds %d", len(rest), MaxTopicBytes)
	}
	if n := strings.Count(rest, "/"); n > MaxTopicSlashes {
		return fmt.Sprintf("topic %q has %d slashes, more than %d", topic, n, MaxTopicSlashes)
	}
	return ""
}

// endedConn is a connection that says when the broker has finished with it (*listener.Conn).
type endedConn interface{ Ended() <-chan struct{} }

// afterEndConn is an endedConn that calls a function when it ends (*listener.Conn), so that no
// goroutine has to wait for it.
type afterEndConn interface{ AfterEnd(func()) }

// OnConnect enters the client id's connect gate (takeover.go), which the connection leaves once
// its session is established or it ends, so that concurrent connects with one client id take
// over from each other in turn. Under profile aws it also clamps the keep-alive to AWS's range:
// 1–29 s become 30, 0 and over 1200 become 1200; MQTT 5 clients are told the value in CONNACK
// (Server Keep Alive).
func (p *Profile) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if conn, ok := cl.Net.Conn.(endedConn); ok && !cl.Net.Inline {
		leave, entered := p.gate.enter(cl.ID, gateWait)
		if !entered {
			p.log.Warn("connect gate: another connect with this client id is taking long; going on", "client", cl.ID, "remote", cl.Net.Remote)
		}
		if ac, ok := conn.(afterEndConn); ok {
			// Left in OnSessionEstablished, or when the connection ends first (refused, or failed
			// before its session was established): both on the connection's own goroutine.
			p.state(cl).leaveGate = leave
			ac.AfterEnd(leave)
		} else {
			established := make(chan struct{})
			p.state(cl).established = established
			go func() {
				select {
				case <-conn.Ended(): // refused, or failed before its session was established
				case <-established:
				}
				leave()
			}()
		}
	}
	if !p.opts.AWS {
		return nil
	}
	ka := cl.State.Keepalive
	switch {
	case ka == 0 || ka > MaxKeepAlive:
		ka = MaxKeepAlive
	case ka < MinKeepAlive:
		ka = MinKeepAlive
	}
	if ka != cl.State.Keepalive {
		cl.State.Keepalive = ka
		cl.State.ServerKeepalive = true
	}
	return nil
}

// takeoverWait bounds how long a new connection waits for the one it replaces to be cleaned up;
// gateWait how long it waits for its turn among concurrent connects with its client id (a storm
// of them queues: each takes its predecessor's takeover time).
const (
	takeoverWait = 5 * time.Second
	gateWait     = 30 * time.Second
)

// OnSessionEstablish makes a takeover safe. Mochi closes the old connection with the same client
// id and registers the new session at once, while the old connection's clean-up still runs; for a
// clean session that clean-up deletes the client id — the new session's — and its deliveries
// stop. So the profile closes the old connection itself (DISCONNECT 0x8E to MQTT 5 clients, as
// AWS sends; nothing to 3.1.1 clients) and waits until the broker has finished with it.
func (p *Profile) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if p.opts.Server == nil || cl.Net.Inline {
		return
	}
	old, ok := p.opts.Server.Clients.Get(cl.ID)
	if !ok || old == cl {
		return
	}
	if !pk.Connect.Clean {
		p.state(cl).resend.prepare(old, &p.resends)
	}
	conn, ok := old.Net.Conn.(endedConn)
	if !ok {
		return
	}
	if !old.Closed() {
		p.log.Info("client id taken over: the older connection is closed (lifecycle disconnect reason DUPLICATE_CLIENTID)",
			"client", cl.ID, "by", cl.Net.Remote, "closed", old.Net.Remote)
		_ = p.opts.Server.DisconnectClient(old, packets.ErrSessionTakenOver)
	}
	select {
	case <-conn.Ended():
	case <-time.After(takeoverWait):
		p.log.Warn("taken-over connection still running", "client", cl.ID, "remote", old.Net.Remote)
	}
}

// OnSessionEstablished leaves the connect gate: the session is registered and acknowledged, so
// the next connect with this client id may take it over.
func (p *Profile) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	if v, ok := p.clients.Load(cl); ok {
		st := v.(*clientState)
		if st.leaveGate != nil {
			st.leaveGate()
			st.leaveGate = nil
		}
		if st.established != nil {
			close(st.established)
			st.established = nil
		}
	}
}

// OnPublish drops what readPublish marked (QoS 2 and throttled publishes: no acknowledgement,
// not routed) and keeps retained messages off $ topics under profile aws.
func (p *Profile) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !p.opts.AWS || cl.Net.Inline {
		return pk, nil
	}
	if v, ok := p.clients.Load(cl); ok {
		st := v.(*clientState)
		p.mark(st, false)
		if st.dropPublish {
			st.dropPublish = false
			return pk, packets.ErrRejectPacket
		}
	}
	if pk.FixedHeader.Retain && strings.HasPrefix(pk.TopicName, "$") {
		p.log.Warn("retain flag ignored: AWS does not retain messages on $ topics", "client", cl.ID, "topic", pk.TopicName)
		pk.FixedHeader.Retain = false
	}
	return pk, nil
}

// OnSubscribe turns off retained-message delivery for wildcard filters under profile aws (AWS
// sends retained messages on subscribe only for exact filters), and makes Mochi refuse filters
// that MQTT forbids but Mochi accepts, such as "a+/b" and "sport/tennis#".
func (p *Profile) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for i, f := range pk.Filters {
		if !validFilter(f.Filter) {
			pk.Filters[i].Filter = invalidFilter
			continue
		}
		if p.opts.AWS && strings.ContainsAny(f.Filter, "+#") {
			pk.Filters[i].RetainHandling = 2
		}
	}
	return pk
}

// invalidFilter is a filter Mochi refuses ("#" not last), used to make it answer SUBACK 0x80 to
// 3.1.1 clients (0x8F to MQTT 5 clients).
const invalidFilter = "#/#"

// validFilter applies MQTT's topic filter rules [MQTT-4.7.1-2] [MQTT-4.7.1-3]: "#" only alone
// as the last level, "+" only alone in a level, and at least one character.
func validFilter(filter string) bool {
	if filter == "" {
		return false
	}
	levels := strings.Split(filter, "/")
	for i, level := range levels {
		if strings.Contains(level, "#") && (level != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(level, "+") && level != "+" {
			return false
		}
	}
	return true
}

// OnPacketEncode keeps Mochi's MQTT 5 habits away from MQTT 3.1.1 clients: CONNACK return codes
// are mapped to 3.1.1's (0x01 unacceptable protocol level, 0x02 identifier rejected) or, for
// other malformed CONNECTs, not sent at all [MQTT-3.1.4-1]; and DISCONNECT, a client-only
// packet in 3.1.1, is never sent (the connection is just closed).
func (p *Profile) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	// Only an acknowledgement of an aliased packet id, or a resend being reordered, needs the
	// connection's state; the profile-wide counts say when none can be (see Profile).
	switch pk.FixedHeader.Type {
	case packets.Puback, packets.Pubrec, packets.Pubcomp, packets.Suback, packets.Unsuback:
		if p.aliased.Load() != 0 {
			if v, ok := p.clients.Load(cl); ok {
				v.(*clientState).ids.outbound(&pk, &p.aliased)
			}
		}
	case packets.Publish:
		if pk.FixedHeader.Dup && p.resends.Load() != 0 {
			if v, ok := p.clients.Load(cl); ok {
				v.(*clientState).resend.next(&pk, &p.resends)
			}
		}
	}
	if cl.Properties.ProtocolVersion == 5 {
		switch {
		case pk.FixedHeader.Type == packets.Connack && pk.ReasonCode == 0:
			if p.opts.AWS {
				pk.Properties.SubIDAvailable, pk.Properties.SubIDAvailableFlag = 0, true // AWS: not supported
			}
			if p.opts.Server != nil {
				pk.Properties.MaximumPacketSize = p.opts.Server.Options.Capabilities.MaximumPacketSize
			}
		case pk.FixedHeader.Type == packets.Puback && pk.ReasonCode == packets.CodeGrantedQos1.Code:
			// Mochi acknowledges a QoS 1 PUBLISH with its "granted QoS 1" code, a SUBACK code;
			// a PUBACK's success is 0x00 [MQTT-3.4.2-1]. It shows when the PUBACK carries
			// properties (inherited from the PUBLISH), which makes the reason code explicit.
			pk.ReasonCode = packets.CodeSuccess.Code
		}
		return pk
	}
	switch pk.FixedHeader.Type {
	case packets.Disconnect:
		pk.FixedHeader.Type = packets.Reserved // Mochi cannot encode it, so nothing is written
	case packets.Connack:
		switch pk.ReasonCode {
		case packets.ErrProtocolViolationProtocolVersion.Code, packets.ErrUnsupportedProtocolVersion.Code:
			pk.ReasonCode = packets.Err3UnsupportedProtocolVersion.Code
		case packets.ErrUnspecifiedError.Code, packets.ErrClientIdentifierNotValid.Code:
			pk.ReasonCode = packets.Err3ClientIdentifierNotValid.Code
		default:
			if pk.ReasonCode >= 0x80 {
				pk.FixedHeader.Type = packets.Reserved
			}
		}
	}
	return pk
}

// OnDisconnect forgets the connection's state.
func (p *Profile) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	v, ok := p.clients.LoadAndDelete(cl)
	if !ok {
		return
	}
	st := v.(*clientState)
	p.mark(st, false)
	st.ids.forget(&p.aliased)
	st.resend.forget(&p.resends)
}

// mark records whether the connection's PUBLISH being processed needs OnPublish, keeping the
// profile-wide count of marked connections (see Provides). Only the connection's read goroutine
// calls it.
func (p *Profile) mark(st *clientState, marked bool) {
	if st.marked == marked {
		return
	}
	st.marked = marked
	if marked {
		p.marked.Add(1)
	} else {
		p.marked.Add(-1)
	}
}

func (p *Profile) state(cl *mqtt.Client) *clientState {
	if v, ok := p.clients.Load(cl); ok {
		return v.(*clientState)
	}
	v, _ := p.clients.LoadOrStore(cl, &clientState{})
	return v.(*clientState)
}

// OnStarted starts the expiry of MQTT 3.1.1 persistent sessions. Mochi applies one expiry to
// every 3.1.1 session and reads MQTT 5's from the client; AWS gives 3.1.1 sessions an hour and
// MQTT 5 sessions up to 7 days, so under profile aws the profile expires 3.1.1 sessions itself.
func (p *Profile) OnStarted() {
	if !p.opts.AWS || p.opts.Server == nil {
		return
	}
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case now := <-t.C:
				p.expireSessions(now)
			}
		}
	}()
}

// OnStopped stops the expiry loop.
func (p *Profile) OnStopped() {
	if p.stop != nil {
		close(p.stop)
		<-p.done
		p.stop = nil
	}
}

func (p *Profile) expireSessions(now time.Time) {
	limit := now.Add(-p.opts.SessionExpiry).Unix()
	for id, cl := range p.opts.Server.Clients.GetAll() {
		stopped := cl.StopTime()
		if stopped == 0 || stopped > limit || cl.Properties.ProtocolVersion == 5 || cl.Properties.Clean || cl.Net.Inline {
			continue
		}
		if current, ok := p.opts.Server.Clients.Get(id); !ok || current != cl {
			continue
		}
		p.log.Info("persistent session expired", "client", id, "after", p.opts.SessionExpiry)
		p.opts.Server.UnsubscribeClient(cl)
		cl.ClearInflights()
		p.opts.Server.Clients.Delete(id)
		if p.opts.OnExpired != nil {
			p.opts.OnExpired(cl)
		}
	}
}

// tokenBucket is a simple rate limiter for the throttles.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) refill(now time.Time, rate float64) {
	if b.last.IsZero() {
		b.tokens, b.last = rate, now
		return
	}
	b.tokens += now.Sub(b.last).Seconds() * rate
	if b.tokens > rate {
		b.tokens = rate
	}
	b.last = now
}

// take removes n tokens if there are enough.
func (b *tokenBucket) take(now time.Time, rate, n float64) bool {
	b.refill(now, rate)
	if b.tokens < n {
		return false
	}
	b.tokens -= n
	return true
}

// delay removes n tokens, going into debt, and returns how long the debt takes to repay.
func (b *tokenBucket) delay(now time.Time, rate, n float64) time.Duration {
	b.refill(now, rate)
	b.tokens -= n
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / rate * float64(time.Second))
}

package emulator

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/api"
)

// httpClientID is the client ID of the inline client that HTTP publications come from: it
// shows as the message's origin in the broker's logs. It is not a connection, so it has no
// lifecycle events and appears in no DeleteConnection.
const httpClientID = "iotcore-http"

// disconnectWait bounds how long DeleteConnection waits for the broker to finish closing the
// connection (will sent, hooks run) before answering.
const disconnectWait = 5 * time.Second

// brokerAdapterOptions configure newBrokerAdapter.
type brokerAdapterOptions struct {
	Server *mqtt.Server
	Logger *slog.Logger
	// OnSessionDropped is told about each persistent session DeleteConnection?cleanSession=true
	// drops, so that state kept per session elsewhere (the authorizer's) can be forgotten as
	// when a session expires. Optional.
	OnSessionDropped func(cl *mqtt.Client)
}

// brokerAdapter gives the HTTP data plane (api.Broker) the Mochi broker: publications are
// injected through an inline client, so they take the path of any PUBLISH — retained
// handling, MQTT 5 properties, the subscribers' iot:Receive checks; retained messages are read
// from the broker's index; DeleteConnection closes live connections.
//
// It is also a Mochi hook (OnDisconnect), registered by newBrokerAdapter (or, from
// makeBrokerAdapter, as the last member of the emulator's hooks.Group), so that
// DeleteConnection can wait until the broker has finished with the connection it closed.
type brokerAdapter struct {
	mqtt.HookBase
	server    *mqtt.Server
	client    *mqtt.Client // the inline client HTTP publications come from
	log       *slog.Logger
	onDropped func(cl *mqtt.Client)

	mu      sync.Mutex
	waiting map[*mqtt.Client]*deletion // connections DeleteConnection is closing
}

// deletion is one connection DeleteConnection is closing: OnDisconnect sends on done whether
// the broker expires the session itself; OnWillSent records that the broker sent the will.
type deletion struct {
	done     chan bool
	willSent atomic.Bool
}

var _ api.Broker = (*brokerAdapter)(nil)

// newBrokerAdapter creates the adapter and adds it to the server's hooks. Add it after the
// other hooks, so that when DeleteConnection returns every hook (the lifecycle event included)
// has seen the disconnect.
func newBrokerAdapter(opts brokerAdapterOptions) (*brokerAdapter, error) {
	a := makeBrokerAdapter(opts)
	if err := opts.Server.AddHook(a, nil); err != nil {
		return nil, fmt.Errorf("add HTTP API broker hook: %w", err)
	}
	return a, nil
}

// makeBrokerAdapter creates the adapter without adding it to the server's hooks: the caller
// adds it, after the other hooks (or as the last member of a hooks.Group that comes last).
func makeBrokerAdapter(opts brokerAdapterOptions) *brokerAdapter {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &brokerAdapter{
		server:    opts.Server,
		log:       log,
		onDropped: opts.OnSessionDropped,
		waiting:   map[*mqtt.Client]*deletion{},
	}
	a.client = opts.Server.NewClient(nil, "http", httpClientID, true)
	a.client.Properties.ProtocolVersion = 5 // its packets carry MQTT 5 properties
	return a
}

// ID names the hook.
func (a *brokerAdapter) ID() string { return "iotcore-http-api" }

// Provides lists the events the hook handles.
func (a *brokerAdapter) Provides(b byte) bool { return b == mqtt.OnDisconnect || b == mqtt.OnWillSent }

// OnWillSent records that the broker sent the will of a connection being deleted.
func (a *brokerAdapter) OnWillSent(cl *mqtt.Client, _ packets.Packet) {
	a.mu.Lock()
	d := a.waiting[cl]
	a.mu.Unlock()
	if d != nil {
		d.willSent.Store(true)
	}
}

// OnDisconnect tells a waiting DeleteConnection that the broker is done with the connection,
// and whether the broker itself expires the session.
func (a *brokerAdapter) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	a.mu.Lock()
	d, ok := a.waiting[cl]
	delete(a.waiting, cl)
	a.mu.Unlock()
	if ok {
		d.done <- expire
	}
}

// Publish injects m as a PUBLISH from the HTTP inline client.
func (a *brokerAdapter) Publish(ctx context.Context, m api.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: m.QoS, Retain: m.Retain},
		TopicName:   m.Topic,
		Payload:     m.Payload,
		Properties: packets.Properties{
			ContentType:           m.ContentType,
			ResponseTopic:         m.ResponseTopic,
			CorrelationData:       m.CorrelationData,
			MessageExpiryInterval: m.MessageExpiry,
		},
	}
	if m.QoS > 0 {
		pk.PacketID = 1 // never acknowledged (inline publications complete at once), but required
	}
	if m.PayloadFormatUTF8 {
		pk.Properties.PayloadFormat, pk.Properties.PayloadFormatFlag = 1, true
	}
	for _, p := range m.UserProperties {
		pk.Properties.User = append(pk.Properties.User, packets.UserProperty{Key: p[0], Val: p[1]})
	}
	if err := a.server.InjectPacket(a.client, pk); err != nil {
		return fmt.Errorf("inject publish to %s: %w", m.Topic, err)
	}
	return nil
}

// Retained returns the retained message of topic, unless it has expired.
func (a *brokerAdapter) Retained(topic string) (api.RetainedMessage, bool) {
	pk, ok := a.server.Topics.Retained.Get(topic)
	if !ok || !visibleRetained(pk, time.Now()) {
		return api.RetainedMessage{}, false
	}
	return retainedFrom(pk), true
}

// ListRetained returns the retained messages, sorted by topic.
func (a *brokerAdapter) ListRetained() []api.RetainedMessage {
	now := time.Now()
	var out []api.RetainedMessage
	for _, pk := range a.server.Topics.Retained.GetAll() {
		if visibleRetained(pk, now) {
			out = append(out, retainedFrom(pk))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Topic < out[j].Topic })
	return out
}

// visibleRetained reports whether a stored retained packet is one AWS would report: it has a
// payload, it is not a $SYS topic (AWS IoT has none), and its MQTT 5 message expiry, if any,
// has not passed.
func visibleRetained(pk packets.Packet, now time.Time) bool {
	if len(pk.Payload) == 0 || strings.HasPrefix(pk.TopicName, "$SYS") {
		return false
	}
	if e := pk.Properties.MessageExpiryInterval; e > 0 && pk.Created > 0 {
		return now.Unix() < pk.Created+int64(e)
	}
	return true
}

// retainedFrom converts a stored packet. Mochi stamps packets in whole seconds, so
// lastModifiedTime has second precision.
func retainedFrom(pk packets.Packet) api.RetainedMessage {
	m := api.RetainedMessage{
		Topic:   pk.TopicName,
		Payload: bytes.Clone(pk.Payload),
		QoS:     pk.FixedHeader.Qos,
	}
	if pk.Created > 0 {
		m.LastModified = time.Unix(pk.Created, 0)
	}
	for _, u := range pk.Properties.User {
		m.UserProperties = append(m.UserProperties, [2]string{u.Key, u.Val})
	}
	return m
}

// DeleteConnection closes the live connection of clientID. An MQTT 5 client first gets
// DISCONNECT 0x98 (administrative action); an MQTT 3.1.1 client, for which servers send no
// DISCONNECT, is just closed. The connection's stop cause is an *api.APIInitiatedDisconnect.
// It returns once the broker has run its disconnect hooks (and sent the will, unless
// preventWill), then drops a persistent session when cleanSession.
func (a *brokerAdapter) DeleteConnection(clientID string, cleanSession, preventWill bool) error {
	cl, ok := a.server.Clients.Get(clientID)
	if !ok || cl.Net.Inline || cl.Closed() {
		return api.ErrNoSuchClient
	}
	if preventWill {
		atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
	}
	// The broker sends the will when the connection's read fails, but takes a read loop that
	// finds the client already stopped for a clean DISCONNECT and forgets the will; so keep
	// it, and send it below if the broker did not.
	will := cl.Properties.Will
	d := &deletion{done: make(chan bool, 1)}
	a.mu.Lock()
	a.waiting[cl] = d
	a.mu.Unlock()

	if cl.Properties.ProtocolVersion == 5 {
		code := packets.ErrAdministrativeAction
		err := cl.WritePacket(packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Disconnect},
			ReasonCode:  code.Code,
			Properties:  packets.Properties{ReasonString: "disconnected by the DeleteConnection API"},
		})
		if err != nil {
			a.log.Debug("DISCONNECT not written", "client", clientID, "error", err)
		}
	}
	cl.Stop(&api.APIInitiatedDisconnect{CleanSession: cleanSession, PreventWill: preventWill})

	var expire bool
	select {
	case expire = <-d.done:
	case <-time.After(disconnectWait):
		a.mu.Lock()
		delete(a.waiting, cl)
		a.mu.Unlock()
		return fmt.Errorf("connection of %s did not finish closing within %v", clientID, disconnectWait)
	}
	a.log.Info("connection deleted through the API", "client", clientID, "clean_session", cleanSession, "prevent_will", preventWill)
	if !preventWill && atomic.LoadUint32(&will.Flag) == 1 && !d.willSent.Load() {
		a.sendWill(cl.ID, will)
	}
	if !cleanSession || expire {
		return nil // kept, or already gone with the connection
	}
	if current, ok := a.server.Clients.Get(clientID); ok && current == cl {
		a.server.UnsubscribeClient(cl)
		cl.ClearInflights()
		a.server.Clients.Delete(clientID)
		if a.onDropped != nil {
			a.onDropped(cl)
		}
		a.log.Info("persistent session dropped through the API", "client", clientID)
	}
	return nil
}

// sendWill publishes a will the broker did not send, as the broker would have: from the
// client's ID (so No Local subscriptions of that client skip it), with its QoS, retain flag
// and user properties, each delivery checked by iot:Receive. Its iot:Publish was decided at
// CONNECT.
func (a *brokerAdapter) sendWill(clientID string, will mqtt.Will) {
	from := a.server.NewClient(nil, "http", clientID, true)
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: will.Qos, Retain: will.Retain},
		TopicName:   will.TopicName,
		Payload:     will.Payload,
		Properties:  packets.Properties{User: will.User},
	}
	if pk.FixedHeader.Qos > 0 {
		pk.PacketID = 1
	}
	if err := a.server.InjectPacket(from, pk); err != nil {
		a.log.Warn("will not sent", "client", clientID, "topic", will.TopicName, "error", err)
		return
	}
	a.log.Debug("will sent after DeleteConnection", "client", clientID, "topic", will.TopicName)
}

// closeListenerClients disconnects the broker's live clients of one listener when it closes
// (DISCONNECT 0x8B to MQTT 5 clients, as Mochi does). It replaces Mochi v2.7.9's
// Server.closeListenerClients, whose Clients.GetByListener takes the clients' read lock twice
// (it calls Len inside): with a client's disconnect waiting for the write lock in between, both
// block for good and Close never returns. GetAll takes the lock once.
func (e *Emulator) closeListenerClients(listenerID string) {
	for _, cl := range e.broker.Clients.GetAll() {
		if cl.Net.Listener == listenerID && !cl.Closed() {
			_ = e.broker.DisconnectClient(cl, packets.ErrServerShuttingDown)
		}
	}
}

package hooks

import (
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
)

// recorder is a group member that records the events it gets, providing a fixed set of them,
// plus OnQosPublish only while on is set (a dynamic provider, like the store).
type recorder struct {
	mqtt.HookBase
	id       string
	events   *eventSet
	on       atomic.Bool
	log      *[]string
	publish  func(pk packets.Packet) (packets.Packet, error)
	clients  []storage.Client
	storeErr error
	stopErr  error
}

func (r *recorder) ID() string { return r.id }
func (r *recorder) Provides(b byte) bool {
	if b == mqtt.OnQosPublish {
		return r.on.Load()
	}
	return r.events.has(b)
}
func (r *recorder) mayProvide(b byte) bool { return b == mqtt.OnQosPublish || r.events.has(b) }
func (r *recorder) note(what string)       { *r.log = append(*r.log, r.id+" "+what) }
func (r *recorder) OnDisconnect(*mqtt.Client, error, bool) {
	r.note("disconnect")
}
func (r *recorder) OnPublished(_ *mqtt.Client, pk packets.Packet) {
	r.note("published " + pk.TopicName)
}
func (r *recorder) OnQosPublish(*mqtt.Client, packets.Packet, int64, int) {
	r.note("qos publish")
}
func (r *recorder) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	r.note("publish " + pk.TopicName)
	return r.publish(pk)
}
func (r *recorder) StoredClients() ([]storage.Client, error) { return r.clients, r.storeErr }
func (r *recorder) Stop() error                              { return r.stopErr }

// TestGroup: a Group answers Provides for its members, forwards each event to the members that
// provide it in order, and combines OnPublish and the Stored* answers as Mochi does across hooks.
func TestGroup(t *testing.T) {
	var log []string
	suffix := func(s string) func(packets.Packet) (packets.Packet, error) {
		return func(pk packets.Packet) (packets.Packet, error) { pk.TopicName += s; return pk, nil }
	}
	a := &recorder{id: "a", log: &log, publish: suffix("/a"),
		events: newEventSet(mqtt.OnDisconnect, mqtt.OnPublish, mqtt.OnPublished, mqtt.StoredClients)}
	b := &recorder{id: "b", log: &log, publish: suffix("/b"), clients: []storage.Client{{ID: "from-b"}},
		events: newEventSet(mqtt.OnDisconnect, mqtt.OnPublish, mqtt.StoredClients)}
	g, err := NewGroup("g", a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := (&mqtt.Hooks{Log: slog.New(slog.DiscardHandler)}).Add(g, nil); err != nil {
		t.Fatal(err)
	}
	for e, want := range map[byte]bool{
		mqtt.OnDisconnect: true, mqtt.OnPublish: true, mqtt.OnPublished: true, mqtt.StoredClients: true,
		mqtt.OnQosPublish: false, mqtt.OnPacketRead: false, mqtt.OnPacketEncode: false, mqtt.OnPacketSent: false, mqtt.OnACLCheck: false,
	} {
		if got := g.Provides(e); got != want {
			t.Errorf("Provides(%d) = %v, want %v", e, got, want)
		}
	}
	b.on.Store(true) // b now provides OnQosPublish
	if !g.Provides(mqtt.OnQosPublish) {
		t.Error("Provides(OnQosPublish) = false once a member provides it")
	}

	cl := benchClient("c")
	g.OnDisconnect(cl, nil, false)
	g.OnQosPublish(cl, packets.Packet{}, 0, 0)
	g.OnPublished(cl, packets.Packet{TopicName: "t"})
	pk, err := g.OnPublish(cl, packets.Packet{TopicName: "t"})
	if err != nil || pk.TopicName != "t/a/b" {
		t.Errorf("OnPublish = %q, %v; want t/a/b, nil (each member gets the one before's packet)", pk.TopicName, err)
	}
	want := []string{"a disconnect", "b disconnect", "b qos publish", "a published t", "a publish t", "b publish t/a"}
	if !slices.Equal(log, want) {
		t.Errorf("events: %q, want %q", log, want)
	}

	// The first error ends the chain and comes back with the packet as it came.
	a.publish = func(pk packets.Packet) (packets.Packet, error) {
		pk.TopicName = "changed"
		return pk, packets.ErrRejectPacket
	}
	log = nil
	pk, err = g.OnPublish(cl, packets.Packet{TopicName: "t"})
	if !errors.Is(err, packets.ErrRejectPacket) || pk.TopicName != "t" || !slices.Equal(log, []string{"a publish t"}) {
		t.Errorf("OnPublish with a rejection = %q, %v, events %q; want t, ErrRejectPacket, only a called", pk.TopicName, err, log)
	}

	// Stored*: the first member with something (or an error) answers.
	if got, err := g.StoredClients(); err != nil || len(got) != 1 || got[0].ID != "from-b" {
		t.Errorf("StoredClients = %v, %v; want b's", got, err)
	}
	a.storeErr = errors.New("broken")
	if _, err := g.StoredClients(); err == nil {
		t.Error("StoredClients hid a member's error")
	}

	a.stopErr, b.stopErr = errors.New("a failed"), errors.New("b failed")
	if err := g.Stop(); err == nil || !errors.Is(err, a.stopErr) || !errors.Is(err, b.stopErr) {
		t.Errorf("Stop = %v, want both members' errors", err)
	}
}

// TestGroupRefusesUnforwardedEvents: a member providing an event the Group does not forward is
// refused rather than silently cut off.
func TestGroupRefusesUnforwardedEvents(t *testing.T) {
	var log []string
	for _, e := range []byte{mqtt.OnPacketRead, mqtt.OnACLCheck, mqtt.OnConnectAuthenticate, mqtt.OnPacketEncode} {
		if _, err := NewGroup("g", &recorder{id: "x", log: &log, events: newEventSet(e)}); err == nil {
			t.Errorf("NewGroup accepted a member providing event %d", e)
		}
	}
	// The emulator's own members are accepted.
	if _, err := NewGroup("g", &Lifecycle{}, &ShadowService{}, &Rules{}, &Store{}); err != nil {
		t.Errorf("NewGroup(lifecycle, shadow, rules, store): %v", err)
	}
}

package hooks

import (
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// publishedEvents counts the lifecycle events that go through the broker.
type publishedEvents struct {
	mqtt.HookBase
	mu     sync.Mutex
	topics []string
}

func (h *publishedEvents) ID() string           { return "published-events" }
func (h *publishedEvents) Provides(b byte) bool { return b == mqtt.OnPublished }
func (h *publishedEvents) OnPublished(_ *mqtt.Client, pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "$aws/events/") {
		h.mu.Lock()
		h.topics = append(h.topics, pk.TopicName)
		h.mu.Unlock()
	}
}

// TestLifecycleObserved checks that presence events are published only while something can
// receive them, that fleet indexing (OnPresence) hears of every connection either way, and that
// a subscriber gets both events of a connection, connected first, with their content.
func TestLifecycleObserved(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
	authorizer := NewAuthorizer(AuthorizerOptions{Profile: "aws", Logger: log})
	var presence []Presence
	lifecycle := NewLifecycle(LifecycleOptions{Server: srv, Principals: authorizer, Logger: log,
		OnPresence: func(p Presence) { presence = append(presence, p) },
		Observed: func(topic string) bool {
			subs := srv.Topics.Subscribers(topic)
			return len(subs.Subscriptions) > 0 || len(subs.Shared) > 0 || len(subs.InlineSubscriptions) > 0
		}})
	published := &publishedEvents{}
	for _, h := range []mqtt.Hook{lifecycle, published} {
		if err := srv.AddHook(h, nil); err != nil {
			t.Fatal(err)
		}
	}
	connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
	connection := func(cl *mqtt.Client) {
		lifecycle.OnSessionEstablish(cl, connect)
		lifecycle.OnSessionEstablished(cl, connect)
		lifecycle.OnDisconnect(cl, packets.CodeDisconnect, true)
	}

	connection(benchClient("device-1"))
	if len(published.topics) != 0 {
		t.Fatalf("events published with no subscriber: %v", published.topics)
	}
	if len(presence) != 2 {
		t.Fatalf("OnPresence told %d times, want 2", len(presence))
	}

	var bodies []map[string]any
	if err := srv.Subscribe("$aws/events/presence/+/device-2", 1, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		var m map[string]any
		if err := json.Unmarshal(pk.Payload, &m); err != nil {
			t.Errorf("event body %q: %v", pk.Payload, err)
		}
		bodies = append(bodies, m)
	}); err != nil {
		t.Fatal(err)
	}
	connection(benchClient("device-1")) // not the subscribed client id
	connection(benchClient("device-2"))
	if want := []string{"$aws/events/presence/connected/device-2", "$aws/events/presence/disconnected/device-2"}; strings.Join(published.topics, " ") != strings.Join(want, " ") {
		t.Fatalf("published %v, want %v", published.topics, want)
	}
	if len(bodies) != 2 || bodies[0]["eventType"] != "connected" || bodies[1]["eventType"] != "disconnected" ||
		bodies[1]["disconnectReason"] != "CLIENT_INITIATED_DISCONNECT" || bodies[0]["clientId"] != "device-2" ||
		bodies[0]["sessionIdentifier"] == "" || bodies[0]["sessionIdentifier"] != bodies[1]["sessionIdentifier"] {
		t.Fatalf("events received: %v", bodies)
	}
	if len(presence) != 6 {
		t.Fatalf("OnPresence told %d times, want 6", len(presence))
	}
}

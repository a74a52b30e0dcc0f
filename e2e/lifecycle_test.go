package e2e

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// monitorPolicy lets the monitor client watch every lifecycle event.
const monitorPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/monitor"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/$aws/events/*"},
 {"Effect":"Allow","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/$aws/events/*"}]}`

type lifecycleEvent struct {
	Topic                     string
	ClientID                  string   `json:"clientId"`
	ThingName                 *string  `json:"thingName"`
	Timestamp                 int64    `json:"timestamp"`
	EventType                 string   `json:"eventType"`
	SessionIdentifier         string   `json:"sessionIdentifier"`
	PrincipalIdentifier       string   `json:"principalIdentifier"`
	IPAddress                 string   `json:"ipAddress"`
	VersionNumber             *int64   `json:"versionNumber"`
	ClientInitiatedDisconnect *bool    `json:"clientInitiatedDisconnect"`
	DisconnectReason          string   `json:"disconnectReason"`
	ConnectFailureReason      string   `json:"connectFailureReason"`
	Topics                    []string `json:"topics"`
}

// watchEvents connects the monitor and returns the channel of lifecycle events it receives.
func watchEvents(t *testing.T, emu *emulator.Emulator) <-chan lifecycleEvent {
	t.Helper()
	m, err := emu.CreateDevice("monitor", monitorPolicy)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connectPaho(t, emu.MQTTAddr(), "monitor", tlsConfig(t, m), nil)
	if err != nil {
		t.Fatal(err)
	}
	events := make(chan lifecycleEvent, 64)
	handler := func(_ paho.Client, msg paho.Message) {
		var ev lifecycleEvent
		if err := json.Unmarshal(msg.Payload(), &ev); err != nil {
			t.Errorf("event on %s is not JSON: %q", msg.Topic(), msg.Payload())
			return
		}
		ev.Topic = msg.Topic()
		events <- ev
	}
	filters := map[string]byte{"$aws/events/presence/+/+": 1, "$aws/events/subscriptions/+/+": 1}
	if err := wait(t, c.SubscribeMultiple(filters, handler)); err != nil {
		t.Fatal(err)
	}
	return events
}

// next returns the next event about clientID, skipping the monitor's own.
func next(t *testing.T, events <-chan lifecycleEvent, clientID string) lifecycleEvent {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev.ClientID == clientID {
				return ev
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no lifecycle event for %s", clientID)
		}
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestLifecycleEvents checks AWS's presence and subscription events field by field.
func TestLifecycleEvents(t *testing.T) {
	emu := startEmulator(t, "")
	events := watchEvents(t, emu)
	d := device(t, emu, "dev-1")
	start := time.Now()

	c, err := connectPaho(t, emu.ALPNAddr(), "dev-1", tlsConfig(t, d, listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatal(err)
	}
	conn := next(t, events, "dev-1")
	if conn.Topic != "$aws/events/presence/connected/dev-1" || conn.EventType != "connected" {
		t.Fatalf("first event %+v, want connected", conn)
	}
	if !uuidPattern.MatchString(conn.SessionIdentifier) {
		t.Errorf("sessionIdentifier %q is not a UUID", conn.SessionIdentifier)
	}
	if conn.PrincipalIdentifier != d.CertificateID {
		t.Errorf("principalIdentifier %q, want the certificate id %s", conn.PrincipalIdentifier, d.CertificateID)
	}
	if conn.IPAddress != "127.0.0.1" || conn.VersionNumber == nil || *conn.VersionNumber != 0 || conn.ThingName != nil {
		t.Errorf("connected event %+v: want ipAddress 127.0.0.1, versionNumber 0, no thingName (not exclusive)", conn)
	}
	if ms := time.UnixMilli(conn.Timestamp); ms.Before(start.Add(-time.Second)) || ms.After(time.Now().Add(time.Second)) {
		t.Errorf("timestamp %d is not the connect time in milliseconds", conn.Timestamp)
	}

	if err := wait(t, c.Subscribe("things/dev-1/inbox", 1, nil)); err != nil {
		t.Fatal(err)
	}
	sub := next(t, events, "dev-1")
	if sub.Topic != "$aws/events/subscriptions/subscribed/dev-1" || sub.EventType != "subscribed" ||
		len(sub.Topics) != 1 || sub.Topics[0] != "things/dev-1/inbox" || sub.SessionIdentifier != conn.SessionIdentifier ||
		sub.PrincipalIdentifier != d.CertificateID {
		t.Fatalf("subscribed event %+v", sub)
	}
	if err := wait(t, c.Unsubscribe("things/dev-1/inbox")); err != nil {
		t.Fatal(err)
	}
	unsub := next(t, events, "dev-1")
	if unsub.EventType != "unsubscribed" || len(unsub.Topics) != 1 || unsub.Topics[0] != "things/dev-1/inbox" {
		t.Fatalf("unsubscribed event %+v", unsub)
	}

	c.Disconnect(250)
	disc := next(t, events, "dev-1")
	if disc.Topic != "$aws/events/presence/disconnected/dev-1" || disc.EventType != "disconnected" ||
		disc.DisconnectReason != "CLIENT_INITIATED_DISCONNECT" || disc.ClientInitiatedDisconnect == nil || !*disc.ClientInitiatedDisconnect ||
		disc.SessionIdentifier != conn.SessionIdentifier || disc.VersionNumber == nil || *disc.VersionNumber != 0 || disc.IPAddress != "" {
		t.Fatalf("disconnected event %+v", disc)
	}

	t.Run("takeover", func(t *testing.T) {
		if _, err := connectPaho(t, emu.MQTTAddr(), "dev-1", tlsConfig(t, d), nil); err != nil {
			t.Fatal(err)
		}
		first := next(t, events, "dev-1")
		if _, err := connectPaho(t, emu.MQTTAddr(), "dev-1", tlsConfig(t, d), nil); err != nil {
			t.Fatal(err)
		}
		// The second connection's connected and the first's disconnected may come in either
		// order; the first connection's connected came before both.
		seen := map[string]lifecycleEvent{}
		for len(seen) < 2 {
			ev := next(t, events, "dev-1")
			seen[ev.EventType] = ev
		}
		gone, second := seen["disconnected"], seen["connected"]
		if first.EventType != "connected" || gone.SessionIdentifier != first.SessionIdentifier {
			t.Fatalf("first connection's events: %+v then %+v", first, gone)
		}
		if gone.DisconnectReason != "DUPLICATE_CLIENTID" || *gone.ClientInitiatedDisconnect {
			t.Fatalf("taken-over connection's reason %q, want DUPLICATE_CLIENTID", gone.DisconnectReason)
		}
		if second.SessionIdentifier == first.SessionIdentifier || *second.VersionNumber <= *first.VersionNumber {
			t.Fatalf("second connection %+v should have a new session and a higher versionNumber than %+v", second, first)
		}
	})

	t.Run("connect_failed", func(t *testing.T) {
		if got, _ := rawConnect(t, emu.MQTTAddr(), "intruder", tlsConfig(t, d)); len(got) != 0 {
			t.Fatalf("CONNACK %x for a client id outside the policy", got)
		}
		ev := next(t, events, "intruder")
		if ev.Topic != "$aws/events/presence/connect_failed/intruder" || ev.ConnectFailureReason != "AUTHORIZATION_FAILED" {
			t.Fatalf("connect_failed event %+v", ev)
		}
	})

	t.Run("no events for wildcard client ids", func(t *testing.T) {
		rawConnect(t, emu.MQTTAddr(), "bad+id", tlsConfig(t, d))
		rawConnect(t, emu.MQTTAddr(), "intruder-2", tlsConfig(t, d))
		for {
			select {
			case ev := <-events:
				if ev.ClientID == "bad+id" {
					t.Fatalf("event for a wildcard client id: %+v", ev)
				}
				if ev.ClientID == "intruder-2" {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no connect_failed for intruder-2")
			}
		}
	})
}

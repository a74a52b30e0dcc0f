package hooks

import (
	"log/slog"
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
)

// BenchmarkTopicLimit is the profile's per-publish check of AWS's topic size and depth.
func BenchmarkTopicLimit(b *testing.B) {
	for _, topic := range []string{"things/sensor-1/telemetry", "$aws/rules/ingest/a/b/c/d/e/f/g"} {
		b.Run(topic, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if topicLimit(topic) != "" {
					b.Fatal("within limits")
				}
			}
		})
	}
}

// BenchmarkReceiveCheck is the authorizer's iot:Receive decision for one delivery: the session
// lookup, the subscribe-window check and the compiled policy.
func BenchmarkReceiveCheck(b *testing.B) {
	doc, err := auth.ParseDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/*"},
		{"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/things/${iot:Connection.Thing.ThingName}/secret"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	env := auth.Environment{Partition: "aws", Region: "us-east-1", Account: "123456789012", ClientID: "sensor-1", ThingName: "sensor-1"}
	a := NewAuthorizer(AuthorizerOptions{Profile: "aws"})
	cl := &mqtt.Client{ID: "sensor-1"}
	s := &session{client: cl, who: &principal{env: env}}
	s.policy.Store(auth.Compile([]auth.NamedDocument{{Name: "p", Document: doc}}, env))
	a.sessions.put(s)
	b.ReportAllocs()
	for b.Loop() {
		if !a.OnACLCheck(cl, "things/sensor-1/telemetry", false) {
			b.Fatal("receive denied")
		}
	}
}

// BenchmarkProvides is Mochi's per-event dispatch: for every event of every packet it asks each
// hook whether it provides the event. One iteration asks one hook about every event.
func BenchmarkProvides(b *testing.B) {
	for _, bc := range []struct {
		name string
		hook mqtt.Hook
	}{
		{"authorizer", &Authorizer{}},
		{"lifecycle", &Lifecycle{}},
		{"profile", &Profile{}},
		{"shadow", &ShadowService{}},
		{"store", &Store{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				for e := mqtt.SetOptions; e <= mqtt.StoredSysInfo; e++ {
					bc.hook.Provides(e)
				}
			}
		})
	}
}

// BenchmarkStorePublishPath is the store's work on the QoS 1 publish path of clean sessions: the
// journal decision of a publish (OnPublish), the end of its routing (OnPacketProcessed) and the
// record decision of a delivery (OnQosPublish),
// with no persistent session at all and with one persistent session subscribed elsewhere.
func BenchmarkStorePublishPath(b *testing.B) {
	for _, bc := range []struct {
		name       string
		persistent bool
	}{{"no-persistent-session", false}, {"other-persistent-session", true}} {
		b.Run(bc.name, func(b *testing.B) {
			s, err := OpenStore(StoreOptions{Path: filepath.Join(b.TempDir(), "sessions.db"), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			if bc.persistent {
				other := &mqtt.Client{ID: "other", Properties: mqtt.ClientProperties{ProtocolVersion: 4}}
				s.OnSessionEstablish(other, packets.Packet{})
				s.OnSubscribed(other, packets.Packet{Filters: packets.Subscriptions{{Filter: "other/x", Qos: 1}}}, []byte{1})
				if !s.tracked("other") {
					b.Fatal("persistent session not tracked")
				}
			}
			pub := &mqtt.Client{ID: "bench-pub", Properties: mqtt.ClientProperties{ProtocolVersion: 4, Clean: true}}
			sub := &mqtt.Client{ID: "bench-sub", Properties: mqtt.ClientProperties{ProtocolVersion: 4, Clean: true}}
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: "bench/x", PacketID: 7, Payload: []byte("payload")}
			b.Run("OnPublish", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.OnPublish(pub, pk)
				}
			})
			b.Run("OnPacketProcessed", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.OnPacketProcessed(pub, pk, nil)
				}
			})
			b.Run("OnQosPublish", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					s.OnQosPublish(sub, pk, 0, 0)
				}
			})
			if n := s.writesApplied.Load(); n > 1 {
				b.Fatalf("%d writes for clean sessions", n)
			}
		})
	}
}

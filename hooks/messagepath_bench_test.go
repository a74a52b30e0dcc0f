package hooks

import (
	"log/slog"
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/iotcore-local/iotcore-local/auth"
	"github.com/iotcore-local/iotcore-local/jobs"
	"github.com/iotcore-local/iotcore-local/rules"
	"github.com/iotcore-local/iotcore-local/shadow"
)

// BenchmarkMessagePath replays, through Mochi's own hook dispatch (mqtt.Hooks), every hook event
// Mochi raises for one QoS 1 message from one clean-session MQTT 3.1.1 device to another, in
// Mochi's order: the PUBLISH read, its iot:Publish check, OnPublish, the PUBACK's in-flight
// record, encoding and completion, the delivery's iot:Receive check, in-flight record and
// encoding, OnPublished, and the subscriber's PUBACK. One iteration is one message.
//
//   - stock: no hook (what stock Mochi pays);
//   - emulator: the emulator's hooks in its order (emulator/emulator.go), the services present with nothing to do
//     (no rule, no job, a telemetry topic that is no shadow request);
//   - emulator-without-services: the same without the shadow hook (which routes jobs and
//     provisioning too) and the rules hook.
//
// The difference between the last two is what idle services cost the message path.
func BenchmarkMessagePath(b *testing.B) {
	log := slog.New(slog.DiscardHandler)
	dir := b.TempDir()

	doc, err := auth.ParseDocument(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
		{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/bench/*"},
		{"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/bench/*"}]}`)
	if err != nil {
		b.Fatal(err)
	}
	authorizer := NewAuthorizer(AuthorizerOptions{Profile: "aws", Logger: log})
	pub := benchClient("bench-pub")
	sub := benchClient("bench-sub")
	for _, cl := range []*mqtt.Client{pub, sub} {
		env := auth.Environment{Partition: "aws", Region: "us-east-1", Account: "123456789012", ClientID: cl.ID, ThingName: cl.ID}
		s := &session{client: cl, who: &principal{env: env}}
		s.policy.Store(auth.Compile([]auth.NamedDocument{{Name: "p", Document: doc}}, env))
		authorizer.sessions.put(s)
	}
	profile := NewProfile(ProfileOptions{AWS: true, Logger: log})
	lifecycle := NewLifecycle(LifecycleOptions{Principals: authorizer, Logger: log})
	store, err := OpenStore(StoreOptions{Path: filepath.Join(dir, "sessions.db"), Logger: log, Principals: authorizer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	shadows, err := shadow.Open(filepath.Join(dir, "shadows.db"), shadow.Options{Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shadows.Close() })
	jobService, err := jobs.Open(filepath.Join(dir, "jobs.db"), jobs.Options{Directory: noDirectory{}, NoSync: true, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { jobService.Close() })
	engine, err := rules.Open(rules.Options{Path: filepath.Join(dir, "rules.db"), Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { engine.Close() })
	jobsRouter := NewJobs(JobsOptions{Service: jobService, Authorizer: authorizer, Logger: log})
	provisioner := NewProvisioningService(ProvisioningOptions{Logger: log}) // sees no $aws/ topic here
	shadowHook := NewShadowService(ShadowOptions{Service: shadows, Logger: log, Jobs: jobsRouter, Provisioning: provisioner})
	rulesHook := NewRules(RulesOptions{Engine: engine, Principals: authorizer, Logger: log})

	reads := NewReadDispatch(profile, authorizer) // as the emulator adds its hooks
	services, err := NewGroup("services", lifecycle, shadowHook, rulesHook, store)
	if err != nil {
		b.Fatal(err)
	}
	withoutServices, err := NewGroup("without-services", lifecycle, store)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		hooks []mqtt.Hook
	}{
		{"stock", nil},
		{"emulator", []mqtt.Hook{reads, profile, authorizer, services}},
		{"emulator-without-services", []mqtt.Hook{reads, profile, authorizer, withoutServices}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := &mqtt.Hooks{Log: log}
			for _, hk := range bc.hooks {
				if err := h.Add(hk, nil); err != nil {
					b.Fatal(err)
				}
			}
			publish := packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1, Remaining: 80},
				TopicName:   "bench/telemetry", PacketID: 1, Payload: make([]byte, 64),
			}
			b.ReportAllocs()
			var id uint16
			for b.Loop() {
				id = id%60000 + 1
				replayMessage(b, h, pub, sub, publish, id)
			}
		})
	}
}

// benchClient is a connected clean-session MQTT 3.1.1 client as the hooks see it.
func benchClient(id string) *mqtt.Client {
	cl := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)}).NewClient(nil, "bench", id, false)
	cl.Properties.ProtocolVersion, cl.Properties.Clean = 4, true
	cl.Net.Remote = "127.0.0.1:40000"
	return cl
}

// replayMessage raises the hook events of one QoS 1 message, as Mochi's processPublish,
// publishToClient, WritePacket and the subscriber's processPuback do.
func replayMessage(b *testing.B, h *mqtt.Hooks, pub, sub *mqtt.Client, publish packets.Packet, id uint16) {
	publish.PacketID = id
	pk, err := h.OnPacketRead(pub, publish)
	if err != nil {
		b.Fatal(err)
	}
	if !h.OnACLCheck(pub, pk.TopicName, true) && h.Len() > 0 {
		b.Fatal("publish refused")
	}
	pk.Origin, pk.Created = pub.ID, 1
	if pk, err = h.OnPublish(pub, pk); err != nil {
		b.Fatal(err)
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: id, ReasonCode: 1, Created: 1}
	h.OnQosPublish(pub, ack, ack.Created, 0)
	h.OnPacketSent(pub, h.OnPacketEncode(pub, ack), nil)
	h.OnQosComplete(pub, ack)

	if !h.OnACLCheck(sub, pk.TopicName, false) && h.Len() > 0 {
		b.Fatal("delivery refused")
	}
	out := pk
	out.PacketID = id
	h.OnQosPublish(sub, out, out.Created, 0)
	h.OnPacketSent(sub, h.OnPacketEncode(sub, out), nil)
	h.OnPublished(pub, pk)
	h.OnPacketProcessed(pub, pk, nil)

	puback := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback, Remaining: 2}, PacketID: id}
	if _, err := h.OnPacketRead(sub, puback); err != nil {
		b.Fatal(err)
	}
	h.OnQosComplete(sub, puback)
	h.OnPacketProcessed(sub, puback, nil)
}

// noDirectory is a registry without things or groups, for a jobs service with nothing to do.
type noDirectory struct{}

func (noDirectory) ThingExists(string) (bool, error)       { return false, nil }
func (noDirectory) GroupExists(string) (bool, error)       { return false, nil }
func (noDirectory) ThingsInGroup(string) ([]string, error) { return nil, nil }
func (noDirectory) GroupsOfThing(string) ([]string, error) { return nil, nil }
func (noDirectory) EventEnabled(string) bool               { return false }

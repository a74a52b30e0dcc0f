package hooks

import (
	"log/slog"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkLifecycleConnection is what the lifecycle events of one connection (connected, then a
// client-initiated disconnected) cost the broker: the Lifecycle hook's work and the events'
// trip through Mochi's publish path (inline client, the profile and authorizer hooks in place).
// One iteration is one connection.
//
//   - published: every event is encoded and published (no Observed option);
//   - unobserved: Observed as the emulator wires it, with no subscription and no rule: the
//     events are neither encoded nor published;
//   - subscribed: an inline subscription to $aws/events/presence/# receives both events.
func BenchmarkLifecycleConnection(b *testing.B) {
	for _, tc := range []struct {
		name      string
		observed  bool
		subscribe bool
	}{{"published", false, false}, {"unobserved", true, false}, {"subscribed", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			log := slog.New(slog.DiscardHandler)
			srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: log})
			authorizer := NewAuthorizer(AuthorizerOptions{Profile: "aws", Logger: log})
			opts := LifecycleOptions{Server: srv, Principals: authorizer, Logger: log}
			if tc.observed {
				opts.Observed = func(topic string) bool {
					subs := srv.Topics.Subscribers(topic)
					return len(subs.Subscriptions) > 0 || len(subs.Shared) > 0 || len(subs.InlineSubscriptions) > 0
				}
			}
			lifecycle := NewLifecycle(opts)
			for _, h := range []mqtt.Hook{NewProfile(ProfileOptions{AWS: true, Logger: log}), authorizer, lifecycle} {
				if err := srv.AddHook(h, nil); err != nil {
					b.Fatal(err)
				}
			}
			received := 0
			if tc.subscribe {
				if err := srv.Subscribe("$aws/events/presence/#", 1, func(_ *mqtt.Client, _ packets.Subscription, _ packets.Packet) { received++ }); err != nil {
					b.Fatal(err)
				}
			}
			cl := benchClient("bench-device")
			connect := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
			b.ReportAllocs()
			for b.Loop() {
				lifecycle.OnSessionEstablish(cl, connect)
				lifecycle.OnSessionEstablished(cl, connect)
				lifecycle.OnDisconnect(cl, packets.CodeDisconnect, true)
			}
			if tc.subscribe && received != 2*b.N {
				b.Fatalf("%d events received for %d connections", received, b.N)
			}
		})
	}
}

package hooks

import (
	"slices"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestProvides pins the events each hook handles: Mochi calls a hook only for the events it
// provides, so a missing one silently disables a handler and an extra one makes Mochi call the
// HookBase default in its place.
func TestProvides(t *testing.T) {
	withSession := &Store{}
	withSession.persistent.Store(1) // a persistent session is tracked
	routing := &Store{}
	routing.routed.Store(1) // a journaled publish is being routed
	storeAlways := []byte{
		mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
		mqtt.OnClientExpired, mqtt.OnWillSent,
		mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
	}
	authorizer := []byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead,
		mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnDisconnect,
	}
	profile := []byte{
		mqtt.OnStarted, mqtt.OnStopped, mqtt.OnConnect, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketRead,
		mqtt.OnPacketEncode, mqtt.OnSubscribe,
	}
	for _, tc := range []struct {
		name string
		hook mqtt.Hook
		want []byte
	}{
		// Under profile aws a refused publish never reaches the authorizer's OnPublish.
		{"authorizer aws", &Authorizer{opts: AuthorizerOptions{Profile: "aws"}}, authorizer},
		{"authorizer mqtt", &Authorizer{opts: AuthorizerOptions{Profile: "mqtt"}}, append(slices.Clone(authorizer), mqtt.OnPublish)},
		{"lifecycle", &Lifecycle{}, []byte{
			mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		}},
		// The profile's OnPublish applies AWS's rules only, while a PUBLISH is marked for it.
		{"profile aws", &Profile{opts: ProfileOptions{AWS: true}}, profile},
		{"profile aws, a publish marked", markedProfile(ProfileOptions{AWS: true}), append(slices.Clone(profile), mqtt.OnPublish)},
		{"profile mqtt, a publish marked", markedProfile(ProfileOptions{}), profile},
		{"profile mqtt", &Profile{}, profile},
		// Behind a ReadDispatch, neither the profile nor the authorizer takes OnPacketRead.
		{"profile aws, reads dispatched", &Profile{opts: ProfileOptions{AWS: true}, readDispatched: true},
			without(profile, mqtt.OnPacketRead)},
		{"authorizer aws, reads dispatched", &Authorizer{opts: AuthorizerOptions{Profile: "aws"}, readDispatched: true},
			without(authorizer, mqtt.OnPacketRead)},
		{"read dispatch", &ReadDispatch{}, []byte{mqtt.OnPacketRead}},
		{"shadow", &ShadowService{}, []byte{mqtt.OnPublished}},
		// Without a persistent session the store takes no per-message event.
		{"store, clean sessions only", &Store{}, storeAlways},
		{"store, journaled publish routing", routing, append(slices.Clone(storeAlways), mqtt.OnPacketProcessed)},
		{"store, persistent session", withSession, append(slices.Clone(storeAlways),
			mqtt.OnPublish, mqtt.OnPacketProcessed, mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for b := range 256 {
				if got, want := tc.hook.Provides(byte(b)), slices.Contains(tc.want, byte(b)); got != want {
					t.Errorf("Provides(%d) = %v, want %v", b, got, want)
				}
			}
		})
	}
}

// markedProfile is a profile with one connection's PUBLISH marked for its OnPublish.
func markedProfile(opts ProfileOptions) *Profile {
	p := &Profile{opts: opts}
	p.marked.Store(1)
	return p
}

// without returns events less e.
func without(events []byte, e byte) []byte {
	return slices.DeleteFunc(slices.Clone(events), func(x byte) bool { return x == e })
}

// TestCapabilitiesWriteQueue: the outbound queue length is Mochi's default unless one is given.
func TestCapabilitiesWriteQueue(t *testing.T) {
	for _, tc := range []struct {
		given int
		want  int32
	}{{0, DefaultWriteQueue}, {-5, DefaultWriteQueue}, {1024, 1024}} {
		for _, aws := range []bool{true, false} {
			if got := Capabilities(aws, time.Hour, tc.given, 0).MaximumClientWritesPending; got != tc.want {
				t.Errorf("Capabilities(aws=%v, writeQueue=%d): queue %d, want %d", aws, tc.given, got, tc.want)
			}
		}
	}
}

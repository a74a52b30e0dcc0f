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
	for _, tc := range []struct {
		name string
		hook mqtt.Hook
		want []byte
	}{
		{"authorizer", &Authorizer{}, []byte{
			mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead,
			mqtt.OnPublish, mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnDisconnect,
		}},
		{"lifecycle", &Lifecycle{}, []byte{
			mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnSubscribed, mqtt.OnUnsubscribed,
		}},
		{"profile", &Profile{}, []byte{
			mqtt.OnStarted, mqtt.OnStopped, mqtt.OnConnect, mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPacketRead,
			mqtt.OnPacketEncode, mqtt.OnPublish, mqtt.OnSubscribe,
		}},
		{"shadow", &ShadowService{}, []byte{mqtt.OnPublished}},
		{"store", &Store{}, []byte{
			mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect,
			mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnPublish, mqtt.OnPacketProcessed,
			mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
			mqtt.OnQosPublish, mqtt.OnQosComplete, mqtt.OnQosDropped,
			mqtt.OnClientExpired, mqtt.OnWillSent,
			mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages, mqtt.StoredRetainedMessages,
		}},
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

package hooks

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestReadDispatch checks that ReadDispatch answers as the profile and authorizer hooks did
// when Mochi called each itself: a publish within AWS's limits passes unchanged, one over them
// is rejected (Mochi then ends the connection), and the wrapped hooks no longer take
// OnPacketRead, so that no packet is checked twice.
func TestReadDispatch(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	p := NewProfile(ProfileOptions{AWS: true, Logger: log})
	a := NewAuthorizer(AuthorizerOptions{Profile: "aws", Logger: log})
	d := NewReadDispatch(p, a)
	if p.Provides(mqtt.OnPacketRead) || a.Provides(mqtt.OnPacketRead) {
		t.Fatal("a wrapped hook still provides OnPacketRead")
	}
	cl := benchClient("device-1")
	for _, tc := range []struct {
		name   string
		topic  string
		reject bool
	}{
		{"within limits", "things/device-1/telemetry", false},
		{"topic over 256 bytes", "things/" + strings.Repeat("x", 300), true},
		{"more than 7 slashes", "a/b/c/d/e/f/g/h/i", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, TopicName: tc.topic, PacketID: 9, Payload: []byte("x")}
			out, err := d.OnPacketRead(cl, in)
			if got := errors.Is(err, packets.ErrRejectPacket); got != tc.reject {
				t.Fatalf("rejected %v (error %v), want %v", got, err, tc.reject)
			}
			// Each hook alone gives the same answer.
			_, perr := p.OnPacketRead(cl, in)
			if errors.Is(perr, packets.ErrRejectPacket) != tc.reject {
				t.Fatalf("profile alone: error %v", perr)
			}
			if !tc.reject && (out.TopicName != in.TopicName || out.PacketID != in.PacketID) {
				t.Fatalf("packet changed: %q id %d", out.TopicName, out.PacketID)
			}
		})
	}
}

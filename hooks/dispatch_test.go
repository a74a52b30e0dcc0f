package hooks

import (
	"errors"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// fakeReader records its calls and answers with err, setting the packet id to id on success.
type fakeReader struct {
	calls int
	id    uint16
	err   error
}

func (f *fakeReader) read(_ *mqtt.Client, pk *packets.Packet) error {
	f.calls++
	if f.err != nil {
		return f.err
	}
	pk.PacketID = f.id
	return nil
}

// TestReadDispatch checks Mochi's semantics of a chain of OnPacketRead hooks: each reader sees
// the packet as the one before left it, a rejection stops the chain and is returned, another
// error skips the reader.
func TestReadDispatch(t *testing.T) {
	reject := &ProtocolLimit{Reason: "too long"}
	for _, tc := range []struct {
		name       string
		first      error
		wantErr    error
		wantID     uint16
		wantSecond int
	}{
		{"both pass", nil, nil, 2, 1},
		{"first rejects", reject, packets.ErrRejectPacket, 0, 0},
		{"first fails without rejecting", errors.New("odd"), nil, 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := &fakeReader{id: 1, err: tc.first}, &fakeReader{id: 2}
			d := &ReadDispatch{readers: []packetReader{a, b}}
			pk, err := d.OnPacketRead(&mqtt.Client{}, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}})
			if !errors.Is(err, packets.ErrRejectPacket) && tc.wantErr != nil || tc.wantErr == nil && err != nil {
				t.Fatalf("error %v, want %v", err, tc.wantErr)
			}
			if b.calls != tc.wantSecond {
				t.Fatalf("second reader called %d times, want %d", b.calls, tc.wantSecond)
			}
			if err == nil && pk.PacketID != tc.wantID {
				t.Fatalf("packet id %d, want %d", pk.PacketID, tc.wantID)
			}
		})
	}
	// NewReadDispatch takes OnPacketRead over from the hooks it wraps.
	p, a := NewProfile(ProfileOptions{AWS: true}), NewAuthorizer(AuthorizerOptions{Profile: "aws"})
	NewReadDispatch(p, a)
	if p.Provides(mqtt.OnPacketRead) || a.Provides(mqtt.OnPacketRead) {
		t.Fatal("a wrapped hook still provides OnPacketRead")
	}
}

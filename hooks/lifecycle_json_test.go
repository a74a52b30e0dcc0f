package hooks

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestAppendPresenceIsMarshal checks that the hand-written encoding of presence events gives
// json.Marshal's bytes, for every field present or absent and for strings that need escaping.
func TestAppendPresenceIsMarshal(t *testing.T) {
	yes, no := true, false
	strs := []string{"", "device-1", `quote"back\slash`, "<html>&amp;", "tab\tnew\nline\x01", "ünïcødé ✓", "bad\xffutf8", "line\u2028sep", "del\x7f"}
	var events []presenceEvent
	for i, s := range strs {
		events = append(events,
			presenceEvent{ClientID: s, Timestamp: 1700000000000 + int64(i), EventType: "connected", SessionIdentifier: "6f1d0f4e-0d6b-4b51-9d0e-2d3c1a6e9b10",
				PrincipalIdentifier: "ab12" + s, IPAddress: "127.0.0.1", VersionNumber: int64(i)},
			presenceEvent{ClientID: "c", ThingName: s, Timestamp: -1, EventType: "disconnected", SessionIdentifier: s,
				PrincipalIdentifier: s, ClientInitiatedDisconnect: &yes, DisconnectReason: "CLIENT_INITIATED_DISCONNECT", VersionNumber: 1 << 40},
			presenceEvent{ClientID: "c", ThingName: "t", EventType: s, IPAddress: s, ClientInitiatedDisconnect: &no, DisconnectReason: s},
		)
	}
	for i, e := range events {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendPresence(nil, &e); string(got) != string(want) {
			t.Errorf("event %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestDisconnectReasonCodes checks the reasons of connections ended by an MQTT reason code,
// given directly and wrapped.
func TestDisconnectReasonCodes(t *testing.T) {
	cl := benchClient("reason")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{packets.CodeDisconnect, "CLIENT_INITIATED_DISCONNECT"},
		{packets.CodeDisconnectWillMessage, "CLIENT_INITIATED_DISCONNECT"},
		{packets.ErrSessionTakenOver, "DUPLICATE_CLIENTID"},
		{packets.ErrServerShuttingDown, "SERVER_INITIATED_DISCONNECT"},
		{packets.ErrKeepAliveTimeout, "MQTT_KEEP_ALIVE_TIMEOUT"},
		{packets.ErrProtocolViolation, "CLIENT_ERROR"},
		{fmt.Errorf("read: %w", packets.CodeDisconnect), "CLIENT_INITIATED_DISCONNECT"},
		{fmt.Errorf("read: %w", packets.ErrKeepAliveTimeout), "MQTT_KEEP_ALIVE_TIMEOUT"},
		{&OperationRefused{Reason: "no"}, "AUTH_ERROR"},
		{io.EOF, "CONNECTION_LOST"},
		{nil, "CONNECTION_LOST"},
		{errors.New("something else"), "CONNECTION_LOST"},
	} {
		if got := DisconnectReason(cl, tc.err); got != tc.want {
			t.Errorf("DisconnectReason(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

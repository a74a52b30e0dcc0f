package conformance

import (
	"bytes"
	"strings"
	"testing"
)

// MQTT 5 statements that AWS IoT Core supports, with the values AWS announces in profile aws.

// intProp returns an integer property and whether it is present.
func intProp(p packet, id byte) (uint32, bool) {
	v, ok := p.props.ints[id]
	return v, ok
}

// TestMQTT5_3_2_2_9: a server without QoS 2 says so with Maximum QoS in CONNACK: 1 in profile
// aws (as AWS IoT Core announces); profile mqtt supports QoS 2 (the property is absent or 2).
func TestMQTT5_3_2_2_9(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		_, ack := tg.fresh5(t)
		v, ok := intProp(ack, propMaximumQoS)
		switch {
		case tg.aws && (!ok || v != 1):
			t.Fatalf("CONNACK Maximum QoS present=%v value=%d, want 1", ok, v)
		case !tg.aws && ok && v != 2:
			t.Fatalf("CONNACK Maximum QoS %d, want absent (2)", v)
		}
	})
}

// TestMQTT5_3_2_2_10: a server without QoS 2 still accepts SUBSCRIBE asking for QoS 2, granting
// what it supports (QoS 1 in profile aws).
func TestMQTT5_3_2_2_10(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, _ := tg.fresh5(t)
		c.sub1("cf/"+unique(), 2, tg.maxQoS())
	})
}

// TestMQTT5_3_2_2_12: a will QoS the server does not support is refused, with CONNACK 0x9B (QoS
// not supported) in profile aws as AWS IoT Core sends it, and the connection is closed.
func TestMQTT5_3_2_2_12(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{level: 5, clientID: unique(), clean: true, keepAlive: 60,
			will: &willMsg{topic: "cf/" + unique(), payload: []byte("x"), qos: 2}})
		if !tg.aws {
			c.expectConnack(0)
			c.ping()
			return
		}
		c.expectConnack(0x9B)
		c.expectClosed()
	})
}

// TestMQTT5_3_2_2_16: a client connecting with an empty client identifier gets an Assigned Client
// Identifier in CONNACK, different for each connection.
func TestMQTT5_3_2_2_16(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		var ids []string
		for i := 0; i < 2; i++ {
			_, ack := tg.connect(t, connectOpts{level: 5, clean: true, keepAlive: 60})
			id, ok := ack.props.strs[propAssignedClientID]
			if !ok || id == "" {
				t.Fatalf("CONNACK without Assigned Client Identifier: %v", ack.props)
			}
			ids = append(ids, id)
		}
		if ids[0] == ids[1] {
			t.Fatalf("two connections were assigned the same client id %q", ids[0])
		}
	})
}

// TestMQTT5_3_2_2_22: a server that does not use the client's keep-alive sends Server Keep Alive.
// Profile aws raises 1-29 s to 30 s and replaces 0 and values over 1200 s by 1200 s, as AWS IoT
// Core does, so it must announce those; profile mqtt uses the client's value.
func TestMQTT5_3_2_2_22(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		cases := []struct{ asked, awsUses uint16 }{{5, 30}, {29, 30}, {30, 30}, {60, 60}, {0, 1200}, {1300, 1200}}
		for _, k := range cases {
			_, ack := tg.connect(t, connectOpts{level: 5, clientID: unique(), clean: true, keepAlive: k.asked})
			v, ok := intProp(ack, propServerKeepAlive)
			uses := k.asked
			if ok {
				uses = uint16(v)
			}
			want := k.asked
			if tg.aws {
				want = k.awsUses
			}
			if uses != want {
				t.Errorf("keep-alive %d: CONNACK Server Keep Alive present=%v value=%d, want the server to use %d", k.asked, ok, v, want)
			}
		}
	})
}

// TestMQTT5_3_1_3_8: a server that rejects a client identifier may answer CONNACK 0x85 (Client
// Identifier not valid) and closes the connection. Profile aws rejects identifiers over 128
// bytes; profile mqtt accepts them.
func TestMQTT5_3_1_3_8(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := (unique() + strings.Repeat("x", 129))[:129]
		c := tg.connectRaw(t, connectOpts{level: 5, clientID: id, clean: true, keepAlive: 60})
		if !tg.aws {
			c.expectConnack(0)
			c.ping()
			return
		}
		p, err := c.next(waitFor)
		switch {
		case isTimeout(err):
			t.Fatal("129-byte client id: no answer and still open")
		case err == nil && (p.typ != typeConnack || p.code != 0x85):
			t.Fatalf("129-byte client id: got %v, want CONNACK 0x85 or the connection closed", p)
		case err == nil:
			c.expectClosed()
		}
	})
}

// TestMQTT5_3_1_4_3: a new connection with the client id of a connected client takes over: the
// old MQTT 5 client gets DISCONNECT 0x8E (Session taken over) and its connection is closed.
func TestMQTT5_3_1_4_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		old, _ := tg.connect(t, connectOpts{level: 5, clientID: id, clean: true, keepAlive: 60})
		niu, _ := tg.connect(t, connectOpts{level: 5, clientID: id, clean: true, keepAlive: 60})
		if d := old.expect(typeDisconnect); d.code != 0x8E {
			t.Fatalf("old connection got %v, want DISCONNECT 0x8E", d)
		}
		old.expectClosed()
		niu.ping()
	})
}

// TestMQTT5_CONNACKCapabilities: CONNACK announces what the server supports. Profile aws
// announces AWS IoT Core's: retained messages and wildcard subscriptions available, subscription
// identifiers not available (0). Profile mqtt supports all three.
func TestMQTT5_CONNACKCapabilities(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		_, ack := tg.fresh5(t)
		for _, want := range []struct {
			name  string
			id    byte
			value uint32
			must  bool // must be present (absent means 1)
		}{
			{"Retain Available", propRetainAvailable, 1, false},
			{"Wildcard Subscription Available", propWildcardSubAvail, 1, false},
			{"Subscription Identifiers Available", propSubIDAvailable, map[bool]uint32{true: 0, false: 1}[tg.aws], tg.aws},
		} {
			v, ok := intProp(ack, want.id)
			if ok && v != want.value || !ok && want.must {
				t.Errorf("CONNACK %s present=%v value=%d, want %d", want.name, ok, v, want.value)
			}
		}
	})
}

// TestMQTT5_SubscriptionIdentifiers: profile aws does not support subscription identifiers, as
// AWS IoT Core: a SUBSCRIBE with one gets DISCONNECT 0xA1. Profile mqtt returns the identifier
// with every message delivered through that subscription ([MQTT-3.3.4-3] of MQTT 5).
func TestMQTT5_SubscriptionIdentifiers(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c, _ := tg.fresh5(t)
		c.send(subscribePacket(1, true, []property{propVarInt(propSubscriptionID, 7)}, sub{topic, 1}))
		if tg.aws {
			if d := c.expect(typeDisconnect); d.code != 0xA1 {
				t.Fatalf("got %v, want DISCONNECT 0xA1", d)
			}
			c.expectClosed()
			return
		}
		if p := c.expect(typeSuback); !bytes.Equal(p.codes, []byte{1}) {
			t.Fatalf("got %v, want SUBACK 01", p)
		}
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("tagged"), qos: 1})
		if m := c.receiveOn(topic, "tagged"); len(m.props.subIDs) != 1 || m.props.subIDs[0] != 7 {
			t.Fatalf("delivered with subscription identifiers %v, want [7]", m.props.subIDs)
		}
	})
}

// TestMQTT5_SessionExpiry: profile aws caps the session expiry interval at 7 days (AWS IoT Core's
// maximum) and announces the value it uses in CONNACK; a server that keeps the client's value
// sends none.
func TestMQTT5_SessionExpiry(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		_, ack := tg.fresh5(t, propU32(propSessionExpiry, 0xFFFFFFFF))
		v, ok := intProp(ack, propSessionExpiry)
		if tg.aws && (!ok || v == 0 || v > 604800) {
			t.Fatalf("CONNACK Session Expiry Interval present=%v value=%d, want 1..604800", ok, v)
		}
	})
}

// TestMQTT5_PublishNotAuthorized: an MQTT 5 QoS 1 PUBLISH the policy refuses gets PUBACK 0x87
// (Not authorized), as AWS IoT Core answers it, and reaches no subscriber.
func TestMQTT5_PublishNotAuthorized(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic, sentinel := "denied/"+unique(), "cf/"+unique()+"/sentinel"
		s := tg.fresh(t)
		s.subscribe(sub{topic, 1}, sub{sentinel, 1})
		c := tg.dialWith(t, tg.denied)
		c.v5 = true
		c.send(connectPacket(connectOpts{level: 5, clientID: unique(), clean: true, keepAlive: 60}))
		c.expectConnack(0)
		c.send(pub{topic: topic, payload: []byte("refused"), qos: 1, id: 3}.encode(true))
		if a := c.expect(typePuback); a.id != 3 || a.code != 0x87 {
			t.Fatalf("got %v with reason 0x%02x, want PUBACK 3 with reason 0x87", a, a.code)
		}
		tg.fresh(t).pub0(sentinel, "end")
		s.expectOnlySentinel(sentinel)
	})
}

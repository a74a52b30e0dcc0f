package conformance

import (
	"bytes"

	"testing"
	"time"

	"github.com/iotcore-local/iotcore-local/hooks"
	"github.com/iotcore-local/iotcore-local/listener"
)

// Packet sizes, malformed packets and the MQTT 5 details Mochi gets wrong, in both profiles.

// TestMQTT5_3_2_2_15: the server announces its Maximum Packet Size in CONNACK, and a client that
// sends a larger packet is disconnected before the server reads (or allocates) its body.
func TestMQTT5_3_2_2_15(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, ack := tg.fresh5(t)
		v, ok := intProp(ack, propMaximumPacketSize)
		if !ok || v != hooks.MaxPacketBytes {
			t.Fatalf("CONNACK Maximum Packet Size present=%v value=%d, want %d", ok, v, hooks.MaxPacketBytes)
		}
		// A PUBLISH claiming 200 MiB with only its first bytes sent: closed at once, not after
		// the keep-alive, so nothing waits for (or holds) the claimed body.
		c.send(claimPacket(typePublish<<4, 200<<20, []byte{0, 1, 'a'}))
		c.expectClosed()
	})
}

// TestMaximumPacketSizeAccepted: a PUBLISH right at the packet limit's payload (128 KiB, AWS's
// payload limit) with a topic and MQTT 5 properties is delivered in both profiles.
func TestMaximumPacketSizeAccepted(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		sub, _ := tg.fresh5(t)
		topic := "cf/" + unique()
		sub.sub1(topic, 1, 1)
		pub, _ := tg.fresh5(t)
		payload := bytes.Repeat([]byte("x"), hooks.MaxPayloadBytes)
		pub.send(pub5(topic, 1, 7, payload, userProp("k", string(bytes.Repeat([]byte("v"), 4000)))))
		if ack := pub.expect(typePuback); ack.code >= 0x80 {
			t.Fatalf("PUBACK 0x%02x for a 128 KiB payload", ack.code)
		}
		if got := sub.receive(); len(got.payload) != len(payload) {
			t.Fatalf("delivered %d bytes, want %d", len(got.payload), len(payload))
		}
	})
}

// TestConnectClaimBeforeAuthentication: a CONNECT claiming 268,435,455 bytes (the largest
// Remaining Length) with 11 bytes sent is refused at once: the connection is closed without
// CONNACK, and the server allocated nothing near the claim. A good client is served meanwhile.
func TestConnectClaimBeforeAuthentication(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, claim := range []int{268_435_455, listener.DefaultMaxConnectBytes + 1} {
			c := tg.dial(t)
			c.send(claimPacket(typeConnect<<4, claim, []byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0}))
			c.expectClosed()
		}
		tg.fresh(t).ping()
	})
}

// TestConnectTrickleUnderCap: a CONNECT under the cap that arrives a few bytes at a time is
// collected and accepted once complete.
func TestConnectTrickleUnderCap(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.dial(t)
		pkt := connectPacket(connectOpts{clientID: unique(), clean: true, keepAlive: 60})
		for i := 0; i < len(pkt); i += 3 {
			c.send(pkt[i:min(i+3, len(pkt))])
			time.Sleep(5 * time.Millisecond)
		}
		c.expectConnack(0)
		c.ping()
	})
}

// TestMalformedSubscribeClosesOnlyItsConnection: the MQTT 5 SUBSCRIBE 82 06 00 01 00 00 01 61
// ends right after its topic filter (no options byte). Mochi v2.7.9 panics decoding it
// (mochi-mqtt/server#501); the emulator closes that connection, and every other connection and
// the emulator itself carry on.
func TestMalformedSubscribeClosesOnlyItsConnection(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		bystander, _ := tg.fresh5(t)
		topic := "cf/" + unique()
		bystander.sub1(topic, 1, 1)

		for _, v5 := range []bool{true, false} {
			bad := tg.connectRaw(t, connectOpts{level: map[bool]byte{true: 5, false: 4}[v5], clientID: unique(), clean: true, keepAlive: 60})
			bad.expectConnack(0)
			bad.send([]byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x61})
			bad.expectClosed()
		}

		other, _ := tg.fresh5(t)
		other.send(pub5(topic, 1, 3, []byte("still here")))
		other.expect(typePuback)
		if got := bystander.receive(); string(got.payload) != "still here" {
			t.Fatalf("bystander got %v", got)
		}
	})
}

// TestMQTT5_3_4_2_1: a QoS 1 PUBLISH carrying properties is acknowledged with a PUBACK reason
// code that PUBACK has: 0x00 (Success), not Mochi's SUBACK code 0x01 (granted QoS 1).
func TestMQTT5_3_4_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, _ := tg.fresh5(t)
		c.send(pub5("cf/"+unique(), 1, 9, []byte("x"), userProp("k", "v")))
		ack := c.expect(typePuback)
		if ack.id != 9 || ack.code != 0x00 {
			t.Fatalf("PUBACK id=%d reason code 0x%02x, want id 9 and 0x00", ack.id, ack.code)
		}
	})
}

// TestMQTT5_3_3_2_6: messages queued for a resumed session carry the Message Expiry Interval
// less the time they waited, also when several are resent (the emulator reorders resends).
func TestMQTT5_3_3_2_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		persistent := connectOpts{level: 5, clientID: id, keepAlive: 60, props: []property{propU32(propSessionExpiry, 600)}}
		c, _ := tg.connect(t, persistent)
		c.sub1(topic, 1, 1)
		c.close()

		pub, _ := tg.fresh5(t)
		for i := uint16(1); i <= 3; i++ {
			pub.send(pub5(topic, 1, i, []byte{byte('0' + i)}, propU32(propMessageExpiry, 60)))
			pub.expect(typePuback)
		}
		time.Sleep(2100 * time.Millisecond) // the expiry interval counts whole seconds

		back, ack := tg.connect(t, persistent)
		if !ack.sessionPresent {
			t.Fatal("session not resumed")
		}
		for i := 0; i < 3; i++ {
			p := back.receive()
			left, ok := p.props.ints[propMessageExpiry]
			if !ok || left > 58 || left == 0 {
				t.Errorf("message %q resent with Message Expiry Interval present=%v %d, want 1..58 after waiting 2 s of 60", p.payload, ok, left)
			}
		}
	})
}

// claimPacket is a packet whose Remaining Length claims claim bytes while only body is sent.
func claimPacket(first byte, claim int, body []byte) []byte {
	return append(appendVarInt([]byte{first}, claim), body...)
}

// pub5 is an MQTT 5 PUBLISH.
func pub5(topic string, qos byte, id uint16, payload []byte, ps ...property) []byte {
	return pub{topic: topic, qos: qos, id: id, payload: payload, props: ps}.encode(true)
}

// userProp is an MQTT 5 User Property.
func userProp(k, v string) property {
	return property{propUserProperty, appendString(appendString(nil, k), v)}
}

// TestBasicIngestSubscribeRefused: Basic Ingest topics ($aws/rules/<rule>/...) go to their rule
// only, so a subscription to one is refused whatever the policy allows (the suite's certificate
// may do everything): MQTT 5 gets SUBACK 0x87; MQTT 3.1.1 is closed under profile aws (AWS's
// reaction to a refused SUBSCRIBE) and gets SUBACK 0x80 under profile mqtt.
func TestBasicIngestSubscribeRefused(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c5, _ := tg.fresh5(t)
		c5.sub1("$aws/rules/"+unique()+"/telemetry", 1, 0x87)
		c5.sub1("cf/"+unique(), 1, 1) // the connection is still served

		c3 := tg.fresh(t)
		if tg.aws {
			c3.send(subscribePacket(c3.newID(), false, nil, sub{"$aws/rules/" + unique() + "/#", 1}))
			c3.expectClosed()
			return
		}
		c3.sub1("$aws/rules/"+unique()+"/#", 1, 0x80)
	})
}

package conformance

import (
	"testing"
)

// TestMQTT_2_2_2_2: a packet with fixed header flags other than the ones its type requires ends
// the connection ([MQTT-2.2.2-1] says what they must be).
func TestMQTT_2_2_2_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, pkt := range map[string][]byte{
			"PINGREQ": {typePingreq<<4 | 0x01, 0},
			"PUBACK":  {typePuback<<4 | 0x02, 2, 0, 1},
			"PUBREC":  {typePubrec<<4 | 0x08, 2, 0, 1},
			"PUBCOMP": {typePubcomp<<4 | 0x02, 2, 0, 1},
			"PUBREL":  {typePubrel<<4 | 0x03, 2, 0, 1},
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pkt)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_4_8_0_1: a protocol violation ends the connection: reserved packet types, packets
// only a server may send, an AUTH packet (MQTT 5 only), a remaining length longer than four
// bytes, an acknowledgement of the wrong length.
func TestMQTT_4_8_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, pkt := range map[string][]byte{
			"reservedType0":   {0x00, 0},
			"AUTH":            {typeAuth << 4, 0},
			"CONNACK":         {typeConnack << 4, 2, 0, 0},
			"SUBACK":          {typeSuback << 4, 3, 0, 1, 0},
			"UNSUBACK":        {typeUnsuback << 4, 2, 0, 1},
			"PINGRESP":        {typePingresp << 4, 0},
			"longLength":      {typePingreq << 4, 0xff, 0xff, 0xff, 0xff, 0x01},
			"shortPUBACK":     {typePuback << 4, 1, 0},
			"PINGREQWithBody": {typePingreq << 4, 1, 0},
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pkt)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_2_2_2_1: every packet the server sends has the fixed header flags its type requires:
// 0010 for PUBREL, 0000 for the other non-PUBLISH types.
func TestMQTT_2_2_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		var got []packet
		c := tg.dial(t)
		c.send(connectPacket(connectOpts{clientID: unique(), clean: true, keepAlive: 60}))
		got = append(got, c.expectConnack(0))
		c.send(subscribePacket(1, false, nil, sub{topic, tg.maxQoS()}))
		got = append(got, c.expect(typeSuback))
		c.send(pub{topic: topic + "/x", payload: []byte("x"), qos: 1, id: 2}.encode(false))
		got = append(got, c.expect(typePuback))
		if !tg.aws {
			c.send(pub{topic: topic + "/x", payload: []byte("x"), qos: 2, id: 3}.encode(false))
			got = append(got, c.expect(typePubrec))
			c.send(ackPacket(typePubrel, 3))
			got = append(got, c.expect(typePubcomp))
			tg.fresh(t).publish(pub{topic: topic, payload: []byte("x"), qos: 2})
			m := c.receiveRaw()
			c.send(ackPacket(typePubrec, m.id))
			got = append(got, c.expect(typePubrel))
			c.send(ackPacket(typePubcomp, m.id))
		}
		c.send(unsubscribePacket(4, false, topic))
		got = append(got, c.expect(typeUnsuback))
		c.send(pingreqPacket)
		got = append(got, c.expect(typePingresp))
		for _, p := range got {
			want := byte(0)
			if p.typ == typePubrel {
				want = 0x02
			}
			if p.flags != want {
				t.Errorf("%s sent with flags %04b, want %04b", typeNames[p.typ], p.flags, want)
			}
		}
	})
}

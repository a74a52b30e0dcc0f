package conformance

import (
	"bytes"
	"testing"
)

// TestMQTT_2_3_1_7: SUBACK and UNSUBACK carry the packet identifier of the SUBSCRIBE and
// UNSUBSCRIBE they answer.
func TestMQTT_2_3_1_7(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		c.send(subscribePacket(0x7ffe, false, nil, sub{topic, 1}))
		if p := c.expect(typeSuback); p.id != 0x7ffe {
			t.Fatalf("SUBACK id %#x, want 0x7ffe", p.id)
		}
		c.send(unsubscribePacket(0xbeef, false, topic))
		if p := c.expect(typeUnsuback); p.id != 0xbeef {
			t.Fatalf("UNSUBACK id %#x, want 0xbeef", p.id)
		}
	})
}

// TestMQTT_3_8_1_1: a SUBSCRIBE whose fixed header flags are not 0010 is malformed and ends the
// connection.
func TestMQTT_3_8_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		pkt := subscribePacket(1, false, nil, sub{"cf/" + unique(), 0})
		pkt[0] = typeSubscribe << 4
		c := tg.fresh(t)
		c.send(pkt)
		c.expectClosed()
	})
}

// TestMQTT_3_8_3_1: a topic filter that is not well-formed UTF-8 ends the connection.
func TestMQTT_3_8_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.send(subscribePacket(1, false, nil, sub{"cf/\xc3\x28", 0}))
		c.expectClosed()
	})
}

// TestMQTT_3_8_3_2: a server that supports wildcards grants filters with them (both profiles
// do; a server that does not must refuse them).
func TestMQTT_3_8_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		c := tg.fresh(t)
		if codes := c.subscribe(sub{base + "/+", 1}, sub{base + "/#", 1}, sub{"+/" + unique(), 1}); !bytes.Equal(codes, []byte{1, 1, 1}) {
			t.Fatalf("wildcard filters: SUBACK codes % x, want 01 01 01", codes)
		}
	})
}

// TestMQTT_3_8_3_3: a SUBSCRIBE without any topic filter is a protocol violation.
func TestMQTT_3_8_3_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.send(subscribePacket(1, false, nil))
		c.expectClosed()
	})
}

// TestMQTT_3_8_3_4: a requested QoS byte with reserved bits set, or QoS 3, is malformed and ends
// the connection.
func TestMQTT_3_8_3_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, opts := range map[string]byte{"qos3": 0x03, "reservedBit": 0x05, "highBits": 0xC1} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(subscribePacket(1, false, nil, sub{"cf/" + unique(), opts}))
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_3_8_4_1: the server answers every SUBSCRIBE with a SUBACK.
func TestMQTT_3_8_4_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.sub1("cf/"+unique(), 0, 0)
		c.sub1("cf/"+unique(), 1, 1)
	})
}

// TestMQTT_3_8_4_2: the SUBACK has the packet identifier of its SUBSCRIBE.
func TestMQTT_3_8_4_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		for _, id := range []uint16{1, 0x00ff, 0xffff} {
			c.send(subscribePacket(id, false, nil, sub{"cf/" + unique(), 1}))
			if p := c.expect(typeSuback); p.id != id {
				t.Fatalf("SUBACK id %#x, want %#x", p.id, id)
			}
		}
	})
}

// TestMQTT_3_8_4_3: subscribing again to the same filter replaces the subscription (one
// delivery per message, at the new QoS) and re-sends the retained message.
func TestMQTT_3_8_4_3(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique(), "cf/"+unique()+"/sentinel"
		retained(t, tg, topic, "retained", 1)
		s := tg.fresh(t)
		s.sub1(sentinel, 1, 1)
		s.sub1(topic, 0, 0)
		if p := s.receiveOn(topic, "retained"); !p.retain || p.qos != 0 {
			t.Fatalf("first subscription: got %v, want the retained message at QoS 0 with RETAIN 1", p)
		}
		s.sub1(topic, 1, 1)
		if p := s.receiveOn(topic, "retained"); !p.retain || p.qos != 1 {
			t.Fatalf("second subscription: got %v, want the retained message re-sent at QoS 1 with RETAIN 1", p)
		}
		p := tg.fresh(t)
		p.publish(pub{topic: topic, payload: []byte("live"), qos: 1})
		p.pub0(sentinel, "end")
		got := s.until(sentinel)
		if len(got) != 1 || string(got[0].payload) != "live" || got[0].qos != 1 {
			t.Fatalf("after re-subscribing got %v, want one delivery of live at QoS 1", got)
		}
	})
}

// TestMQTT_3_8_4_4: a SUBSCRIBE with several filters is handled as several SUBSCRIBEs answered
// by one SUBACK.
func TestMQTT_3_8_4_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		s := tg.fresh(t)
		if codes := s.subscribe(sub{base + "/a", 1}, sub{base + "/b", 0}, sub{base + "/c/#", 1}); !bytes.Equal(codes, []byte{1, 0, 1}) {
			t.Fatalf("SUBACK codes % x, want 01 00 01", codes)
		}
		s.ping() // one SUBACK only
		p := tg.fresh(t)
		for _, topic := range []string{base + "/a", base + "/b", base + "/c/d"} {
			p.publish(pub{topic: topic, payload: []byte(topic), qos: 1})
			s.receiveOn(topic, topic)
		}
	})
}

// TestMQTT_3_8_4_5: the SUBACK has one return code per filter: the QoS granted, or 0x80 for a
// refused filter. Profile aws grants QoS 1 for a QoS 2 request, as AWS IoT Core does.
func TestMQTT_3_8_4_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		c := tg.fresh(t)
		codes := c.subscribe(sub{base + "/0", 0}, sub{base + "/1", 1}, sub{base + "/2", 2}, sub{base + "/#/bad", 1})
		want := []byte{0, 1, 2, 0x80}
		if tg.aws {
			want[2] = 1
		}
		if !bytes.Equal(codes, want) {
			t.Fatalf("SUBACK codes % x, want % x", codes, want)
		}
	})
}

// TestMQTT_3_8_4_6: a message is delivered at the lower of its published QoS and the QoS granted
// to the subscription.
func TestMQTT_3_8_4_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		p := tg.fresh(t)
		for _, sq := range []byte{0, 1, 2} {
			granted := min(sq, tg.maxQoS())
			topic := "cf/" + unique()
			s := tg.fresh(t)
			s.sub1(topic, sq, granted)
			for _, pq := range []byte{0, 1, 2} {
				if pq > tg.maxQoS() {
					continue
				}
				p.publish(pub{topic: topic, payload: []byte{'0' + pq}, qos: pq})
				if m := s.receive(); m.qos != min(pq, granted) {
					t.Fatalf("subscribed at QoS %d (granted %d), published at QoS %d: delivered at QoS %d", sq, granted, pq, m.qos)
				}
			}
		}
	})
}

// TestMQTT_3_9_3_1: the SUBACK return codes are in the order of the SUBSCRIBE's filters.
func TestMQTT_3_9_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		c := tg.fresh(t)
		codes := c.subscribe(sub{base + "/a", 1}, sub{base + "/b", 0}, sub{base + "/c+", 1}, sub{base + "/d", 1})
		if want := []byte{1, 0, 0x80, 1}; !bytes.Equal(codes, want) {
			t.Fatalf("SUBACK codes % x, want % x", codes, want)
		}
	})
}

// TestMQTT_3_9_3_2: a 3.1.1 SUBACK uses only 0x00, 0x01, 0x02 and 0x80, also when the SUBSCRIBE
// reuses the packet identifier of a message the server is still delivering to the client (the
// two directions have separate identifier spaces).
func TestMQTT_3_9_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("pending"), qos: 1})
		m := s.receiveRaw() // not acknowledged yet
		s.send(subscribePacket(m.id, false, nil, sub{"cf/" + unique(), 1}, sub{"cf/" + unique() + "/#/x", 1}))
		p := s.expect(typeSuback)
		if p.id != m.id || !bytes.Equal(p.codes, []byte{1, 0x80}) {
			t.Fatalf("SUBSCRIBE reusing id %d of a pending delivery: got %v, want SUBACK(id=%d codes=01 80)", m.id, p, m.id)
		}
		s.send(ackPacket(typePuback, m.id))
		s.ping()
	})
}

// TestMQTT_3_10_1_1: an UNSUBSCRIBE whose fixed header flags are not 0010 is malformed and ends
// the connection.
func TestMQTT_3_10_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		pkt := unsubscribePacket(1, false, "cf/"+unique())
		pkt[0] = typeUnsubscribe << 4
		c := tg.fresh(t)
		c.send(pkt)
		c.expectClosed()
	})
}

// TestMQTT_3_10_3_1: an UNSUBSCRIBE topic filter that is not well-formed UTF-8 ends the
// connection.
func TestMQTT_3_10_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.send(unsubscribePacket(1, false, "cf/\xed\xa0\x80"))
		c.expectClosed()
	})
}

// TestMQTT_3_10_3_2: an UNSUBSCRIBE without any topic filter is a protocol violation.
func TestMQTT_3_10_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.send(unsubscribePacket(1, false))
		c.expectClosed()
	})
}

// TestMQTT_3_10_4_1: UNSUBSCRIBE compares filters character by character: a topic matched by a
// wildcard subscription does not remove it; the identical filter does.
func TestMQTT_3_10_4_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(base+"/+", 1, 1)
		s.unsubscribe(base + "/a")
		p := tg.fresh(t)
		p.publish(pub{topic: base + "/a", payload: []byte("still"), qos: 1})
		s.receiveOn(base+"/a", "still")

		s.sub1(base+"/sentinel/x", 1, 1)
		s.unsubscribe(base + "/+")
		p.publish(pub{topic: base + "/a", payload: []byte("gone"), qos: 1})
		p.pub0(base+"/sentinel/x", "end")
		s.expectOnlySentinel(base + "/sentinel/x")
	})
}

// TestMQTT_3_10_4_2: once the server has deleted a subscription it adds no new messages for it.
func TestMQTT_3_10_4_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique(), "cf/"+unique()+"/sentinel"
		s := tg.fresh(t)
		s.subscribe(sub{topic, 1}, sub{sentinel, 1})
		s.unsubscribe(topic)
		p := tg.fresh(t)
		p.publish(pub{topic: topic, payload: []byte("after"), qos: 1})
		p.pub0(sentinel, "end")
		s.expectOnlySentinel(sentinel)
	})
}

// TestMQTT_3_10_4_3: deleting a subscription does not abandon QoS 1 messages already being
// delivered: an unacknowledged one is still re-sent when the session resumes.
func TestMQTT_3_10_4_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		s := persistent(t, tg, id, false)
		s.sub1(topic, 1, 1)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("in flight"), qos: 1})
		m := s.receiveRaw()
		s.unsubscribe(topic)
		s.close()

		s = persistent(t, tg, id, true)
		if p := s.receiveRaw(); p.id != m.id || string(p.payload) != "in flight" {
			t.Fatalf("after resuming got %v, want the unacknowledged message (id %d) re-sent", p, m.id)
		}
	})
}

// TestMQTT_3_10_4_4: the server answers UNSUBSCRIBE with an UNSUBACK with the same packet
// identifier.
func TestMQTT_3_10_4_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		c.sub1(topic, 1, 1)
		c.send(unsubscribePacket(0x0101, false, topic))
		if p := c.expect(typeUnsuback); p.id != 0x0101 {
			t.Fatalf("UNSUBACK id %#x, want 0x0101", p.id)
		}
	})
}

// TestMQTT_3_10_4_5: the server sends UNSUBACK even when nothing was unsubscribed.
func TestMQTT_3_10_4_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.unsubscribe("cf/" + unique() + "/never")
		c.ping()
	})
}

// TestMQTT_3_10_4_6: an UNSUBSCRIBE with several filters is handled as several UNSUBSCRIBEs
// answered by one UNSUBACK.
func TestMQTT_3_10_4_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		s := tg.fresh(t)
		s.subscribe(sub{base + "/a", 1}, sub{base + "/b", 1}, sub{base + "/sentinel", 1})
		s.unsubscribe(base+"/a", base+"/b")
		s.ping() // one UNSUBACK only
		p := tg.fresh(t)
		p.publish(pub{topic: base + "/a", payload: []byte("a"), qos: 1})
		p.publish(pub{topic: base + "/b", payload: []byte("b"), qos: 1})
		p.pub0(base+"/sentinel", "end")
		s.expectOnlySentinel(base + "/sentinel")
	})
}

// TestMQTT_3_12_4_1: the server answers PINGREQ with PINGRESP (flags 0, no body).
func TestMQTT_3_12_4_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		for i := 0; i < 3; i++ {
			c.send(pingreqPacket)
			if p := c.expect(typePingresp); len(p.body) != 0 || p.flags != 0 {
				t.Fatalf("PINGRESP with flags %#x and %d body bytes, want 0 and 0", p.flags, len(p.body))
			}
		}
	})
}

package conformance

import (
	"testing"
)

// TestMQTT_2_3_1_5: a QoS 0 PUBLISH from the server carries no packet identifier.
func TestMQTT_2_3_1_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 0, 0)
		tg.fresh(t).pub0(topic, "abc")
		p := s.receiveOn(topic, "abc")
		if want := 2 + len(topic) + 3; len(p.body) != want {
			t.Fatalf("QoS 0 PUBLISH body is %d bytes, want %d (topic and payload only)", len(p.body), want)
		}
	})
}

// TestMQTT_2_3_1_6: the server's PUBACK, PUBREC and PUBREL carry the packet identifier of the
// PUBLISH they answer (PUBREC and PUBREL in profile mqtt only: aws has no QoS 2).
func TestMQTT_2_3_1_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		c.publish(pub{topic: topic, payload: []byte("x"), qos: 1, id: 0x1234})
		if tg.aws {
			return
		}
		c.publish(pub{topic: topic, payload: []byte("x"), qos: 2, id: 0x4321})

		s := tg.fresh(t)
		s.sub1(topic, 2, 2)
		c.publish(pub{topic: topic, payload: []byte("y"), qos: 2, id: 9})
		m := s.receiveRaw()
		s.send(ackPacket(typePubrec, m.id))
		if r := s.expect(typePubrel); r.id != m.id {
			t.Fatalf("server PUBREL id %d, want %d (its PUBLISH's id)", r.id, m.id)
		}
		s.send(ackPacket(typePubcomp, m.id))
		s.ping()
	})
}

// TestMQTT_3_3_1_1: the server sets DUP 1 when it re-delivers a PUBLISH.
func TestMQTT_3_3_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		c := persistent(t, tg, id, false)
		c.sub1(topic, 1, 1)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("again"), qos: 1})
		if first := c.receiveRaw(); first.dup {
			t.Fatalf("first delivery has DUP 1: %v", first)
		}
		c.close()
		c = persistent(t, tg, id, true)
		if p := c.receiveRaw(); !p.dup || string(p.payload) != "again" {
			t.Fatalf("re-delivery %v, want DUP 1", p)
		}
	})
}

// TestMQTT_3_3_1_2: a QoS 0 PUBLISH from the server has DUP 0, whatever the incoming flags.
func TestMQTT_3_3_1_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 0, 0)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("dup in"), qos: 1, dup: true})
		if p := s.receiveOn(topic, "dup in"); p.qos != 0 || p.dup {
			t.Fatalf("delivered %v, want QoS 0 with DUP 0", p)
		}
	})
}

// TestMQTT_3_3_1_3: the DUP flag of an incoming PUBLISH is not passed on to subscribers.
func TestMQTT_3_3_1_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("dup in"), qos: 1, dup: true})
		if p := s.receiveOn(topic, "dup in"); p.dup {
			t.Fatalf("delivered %v: the publisher's DUP 1 was passed on", p)
		}
	})
}

// TestMQTT_3_3_1_4: a PUBLISH with both QoS bits set ends the connection.
func TestMQTT_3_3_1_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		c.send(pub{topic: "cf/" + unique(), payload: []byte("x"), qos: 3, id: 1}.encode(false))
		c.expectClosed()
	})
}

// TestMQTT_3_3_2_1: a PUBLISH must start with a topic name that is a UTF-8 string; one without
// it, or with ill-formed UTF-8, ends the connection.
func TestMQTT_3_3_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, pkt := range map[string][]byte{
			"missing":   {typePublish << 4, 1, 0},
			"notUTF8":   pub{topic: "cf/\xff\xfe", payload: []byte("x")}.encode(false),
			"truncated": {typePublish << 4, 4, 0, 9, 'a', 'b'},
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pkt)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_3_3_2_2: a topic name with a wildcard character is a protocol violation that ends
// the connection.
func TestMQTT_3_3_2_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, topic := range map[string]string{"plus": "cf/" + unique() + "/+", "plusMid": "cf/+/x", "hash": "cf/" + unique() + "/#"} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pub{topic: topic, payload: []byte("x"), qos: 1, id: 1}.encode(false))
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_3_3_2_3: a message delivered through a wildcard subscription carries the topic name it
// was published to, which matches the filter.
func TestMQTT_3_3_2_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(base+"/+/x", 1, 1)
		tg.fresh(t).publish(pub{topic: base + "/abc/x", payload: []byte("m"), qos: 1})
		s.receiveOn(base+"/abc/x", "m")
	})
}

// TestMQTT_3_3_4_1: the server answers a PUBLISH as its QoS says: nothing for QoS 0, PUBACK for
// QoS 1, PUBREC for QoS 2. Profile aws ignores a QoS 2 PUBLISH, as AWS IoT Core does: no
// acknowledgement, and the message reaches no subscriber.
func TestMQTT_3_3_4_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique(), "cf/"+unique()+"/sentinel"
		s := tg.fresh(t)
		s.subscribe(sub{topic, tg.maxQoS()}, sub{sentinel, 1})
		c := tg.fresh(t)
		t.Run("qos0", func(t *testing.T) {
			c.pub0(topic, "zero")
			c.ping()
			s.receiveOn(topic, "zero")
		})
		t.Run("qos1", func(t *testing.T) {
			c.publish(pub{topic: topic, payload: []byte("one"), qos: 1})
			s.receiveOn(topic, "one")
		})
		t.Run("qos2", func(t *testing.T) {
			if !tg.aws {
				c.publish(pub{topic: topic, payload: []byte("two"), qos: 2})
				s.receiveOn(topic, "two")
				return
			}
			c.send(pub{topic: topic, payload: []byte("two"), qos: 2, id: 77}.encode(false))
			c.ping()
			c.pub0(sentinel, "end")
			s.expectOnlySentinel(sentinel)
		})
	})
}

// TestMQTT_3_3_5_1: a message matching several subscriptions of one client is delivered with the
// highest QoS they grant (capped by the published QoS).
func TestMQTT_3_3_5_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(base+"/a", 0, 0)
		s.sub1(base+"/+", 1, 1)
		p := tg.fresh(t)
		p.publish(pub{topic: base + "/a", payload: []byte("overlap"), qos: 1})
		p.pub0(base+"/sentinel", "end")
		got := s.until(base + "/sentinel")
		best := -1
		for _, m := range got {
			if m.topic != base+"/a" || m.qos > 1 {
				t.Fatalf("unexpected delivery %v", m)
			}
			best = max(best, int(m.qos))
		}
		if best != 1 {
			t.Fatalf("deliveries %v: want one at QoS 1 (the highest granted)", got)
		}
	})
}

// TestMQTT_3_3_5_2: a PUBLISH the client is not authorized to make is either acknowledged as
// usual or answered by closing the connection. Profile aws closes the connection (AWS IoT Core's
// reaction); profile mqtt acknowledges it. Either way it reaches no subscriber.
func TestMQTT_3_3_5_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, qos := range []byte{0, 1} {
			t.Run("qos"+string(rune('0'+qos)), func(t *testing.T) {
				topic, sentinel := "denied/"+unique(), "cf/"+unique()+"/sentinel"
				s := tg.fresh(t)
				s.subscribe(sub{topic, 1}, sub{sentinel, 1})
				c := tg.dialWith(t, tg.denied)
				c.send(connectPacket(connectOpts{clientID: unique(), clean: true, keepAlive: 60}))
				c.expectConnack(0)
				c.send(pub{topic: topic, payload: []byte("refused"), qos: qos, id: 5}.encode(false))
				if tg.aws {
					c.expectClosed()
				} else {
					if qos == 1 {
						if a := c.expect(typePuback); a.id != 5 {
							t.Fatalf("PUBACK id %d, want 5", a.id)
						}
					}
					c.ping()
				}
				tg.fresh(t).pub0(sentinel, "end")
				s.expectOnlySentinel(sentinel)
			})
		}
	})
}

// TestMQTT_3_6_1_1: a PUBREL whose fixed header flags are not 0010 is malformed and ends the
// connection.
func TestMQTT_3_6_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		if !tg.aws {
			c.send(pub{topic: "cf/" + unique(), payload: []byte("x"), qos: 2, id: 3}.encode(false))
			c.expect(typePubrec)
		}
		c.send([]byte{typePubrel << 4, 2, 0, 3})
		c.expectClosed()
	})
}

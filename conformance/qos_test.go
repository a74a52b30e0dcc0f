package conformance

import (
	"fmt"
	"slices"
	"testing"
)

// TestMQTT_2_3_1_1: SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH carry a non-zero packet
// identifier: the server's deliveries do, and a client packet with identifier 0 is a protocol
// violation that ends the connection.
func TestMQTT_2_3_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("server", func(t *testing.T) {
			topic := "cf/" + unique()
			s := tg.fresh(t)
			s.sub1(topic, 1, 1)
			p := tg.fresh(t)
			for i := 0; i < 3; i++ {
				p.publish(pub{topic: topic, payload: []byte("x"), qos: 1})
				if m := s.receive(); m.id == 0 {
					t.Fatalf("QoS 1 delivery with packet id 0: %v", m)
				}
			}
		})
		for name, pkt := range map[string][]byte{
			"subscribe":   subscribePacket(0, false, nil, sub{"cf/" + unique(), 1}),
			"unsubscribe": unsubscribePacket(0, false, "cf/"+unique()),
			"publish":     pub{topic: "cf/" + unique(), payload: []byte("x"), qos: 1}.encode(false),
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pkt)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_2_3_1_4: the server gives each unacknowledged QoS 1 delivery its own unused packet
// identifier.
func TestMQTT_2_3_1_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		p := tg.fresh(t)
		seen := map[uint16]bool{}
		var got []packet
		for i := 0; i < 5; i++ {
			p.publish(pub{topic: topic, payload: []byte{byte('a' + i)}, qos: 1})
			m := s.receiveRaw()
			if m.id == 0 || seen[m.id] {
				t.Fatalf("delivery %d has packet id %d, already in use or zero (ids so far %v)", i, m.id, seen)
			}
			seen[m.id] = true
			got = append(got, m)
		}
		for _, m := range got {
			s.ack(m)
		}
		s.ping()
	})
}

// TestMQTT_4_3_1_1: a QoS 0 delivery is a PUBLISH with QoS 0 and DUP 0.
func TestMQTT_4_3_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		tg.fresh(t).pub0(topic, "at most once")
		if m := s.receiveOn(topic, "at most once"); m.qos != 0 || m.dup {
			t.Fatalf("got %v, want QoS 0 and DUP 0", m)
		}
	})
}

// TestMQTT_4_3_2_1: a QoS 1 delivery is sent with DUP 0 and stays unacknowledged (re-sent on
// session resumption) until the client's PUBACK, and only that PUBACK: a client PUBLISH that
// happens to reuse the packet id does not acknowledge it.
func TestMQTT_4_3_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic, sentinel := unique(), "cf/"+unique(), "cf/"+unique()+"/sentinel"
		s := persistent(t, tg, id, false)
		s.subscribe(sub{topic, 1}, sub{sentinel, 1})
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("pending"), qos: 1})
		m := s.receiveRaw()
		if m.qos != 1 || m.dup || m.id == 0 {
			t.Fatalf("got %v, want QoS 1, DUP 0, a packet id", m)
		}
		// The client's own QoS 1 PUBLISH with the same packet id: a different flow.
		s.publish(pub{topic: "cf/" + unique() + "/own", payload: []byte("own"), qos: 1, id: m.id})
		s.close()

		s = persistent(t, tg, id, true)
		if p := s.receiveRaw(); p.id != m.id || string(p.payload) != "pending" || !p.dup {
			t.Fatalf("after resuming got %v, want the pending delivery re-sent with id %d", p, m.id)
		}
		s.send(ackPacket(typePuback, m.id))
		s.close()

		s = persistent(t, tg, id, true)
		tg.fresh(t).pub0(sentinel, "end")
		s.expectOnlySentinel(sentinel)
	})
}

// TestMQTT_4_3_2_2: the server answers a QoS 1 PUBLISH with a PUBACK carrying its packet id,
// and after that treats a PUBLISH with the same id as a new message, whatever its DUP flag.
func TestMQTT_4_3_2_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		p := tg.fresh(t)
		for i, dup := range []bool{false, false, true} {
			payload := fmt.Sprint("message ", i)
			p.publish(pub{topic: topic, payload: []byte(payload), qos: 1, id: 5, dup: dup})
			s.receiveOn(topic, payload)
		}
	})
}

// TestMQTT_4_3_3_1: as a QoS 2 sender the server sends PUBLISH with DUP 0, answers PUBREC with a
// PUBREL of the same id, and never re-sends the PUBLISH after its PUBREL (on resumption it
// re-sends the PUBREL). Profile aws grants QoS 1 for a QoS 2 subscription and delivers at QoS 1.
func TestMQTT_4_3_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		s := persistent(t, tg, id, false)
		s.sub1(topic, 2, tg.maxQoS())
		p := tg.fresh(t)
		if tg.aws {
			p.publish(pub{topic: topic, payload: []byte("capped"), qos: 1})
			if m := s.receiveOn(topic, "capped"); m.qos != 1 {
				t.Fatalf("got %v, want QoS 1", m)
			}
			return
		}
		p.publish(pub{topic: topic, payload: []byte("exactly once"), qos: 2})
		m := s.receiveRaw()
		if m.qos != 2 || m.dup || m.id == 0 {
			t.Fatalf("got %v, want QoS 2, DUP 0, a packet id", m)
		}
		s.send(ackPacket(typePubrec, m.id))
		if r := s.expect(typePubrel); r.id != m.id {
			t.Fatalf("PUBREL id %d, want %d", r.id, m.id)
		}
		s.close()
		s = persistent(t, tg, id, true)
		if r := s.expect(typePubrel); r.id != m.id {
			t.Fatalf("after resuming: PUBREL id %d, want %d", r.id, m.id)
		}
		s.send(ackPacket(typePubcomp, m.id))
		s.ping()
	})
}

// TestMQTT_4_3_3_2: as a QoS 2 receiver the server answers PUBLISH with PUBREC, answers a
// re-sent PUBLISH with another PUBREC without delivering it twice, answers PUBREL with PUBCOMP,
// and after PUBCOMP treats the same id as a new message. Profile aws ignores QoS 2 PUBLISH.
func TestMQTT_4_3_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique(), "cf/"+unique()+"/sentinel"
		s := tg.fresh(t)
		s.subscribe(sub{topic, tg.maxQoS()}, sub{sentinel, 1})
		p := tg.fresh(t)
		first := pub{topic: topic, payload: []byte("first"), qos: 2, id: 9}
		if tg.aws {
			p.send(first.encode(false))
			p.ping()
			p.pub0(sentinel, "end")
			s.expectOnlySentinel(sentinel)
			return
		}
		p.send(first.encode(false))
		if r := p.expect(typePubrec); r.id != 9 {
			t.Fatalf("PUBREC id %d, want 9", r.id)
		}
		first.dup = true
		p.send(first.encode(false))
		if r := p.expect(typePubrec); r.id != 9 {
			t.Fatalf("PUBREC for the re-sent PUBLISH: id %d, want 9", r.id)
		}
		p.send(ackPacket(typePubrel, 9))
		if r := p.expect(typePubcomp); r.id != 9 {
			t.Fatalf("PUBCOMP id %d, want 9", r.id)
		}
		p.publish(pub{topic: topic, payload: []byte("second"), qos: 2, id: 9})
		p.pub0(sentinel, "end")
		if got := payloads(s.until(sentinel)); !slices.Equal(got, []string{"first", "second"}) {
			t.Fatalf("subscriber got %q, want [first second]", got)
		}
	})
}

// TestMQTT_4_5_0_1: a message the server accepts is added to the session of every client with a
// matching subscription.
func TestMQTT_4_5_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		a, b, c := tg.fresh(t), tg.fresh(t), tg.fresh(t)
		a.sub1(base+"/x", 1, 1)
		b.sub1(base+"/+", 1, 1)
		c.sub1(base+"/#", 0, 0)
		tg.fresh(t).publish(pub{topic: base + "/x", payload: []byte("all"), qos: 1})
		for _, s := range []*client{a, b, c} {
			s.receiveOn(base+"/x", "all")
		}
	})
}

// TestMQTT_4_6_0_1: unacknowledged messages are re-sent in the order they were first sent.
func TestMQTT_4_6_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		s := persistent(t, tg, id, false)
		s.sub1(topic, 1, 1)
		p := tg.fresh(t)
		var first []uint16
		for i := 0; i < 5; i++ {
			p.publish(pub{topic: topic, payload: []byte{byte('a' + i)}, qos: 1})
			first = append(first, s.receiveRaw().id)
		}
		s.close()
		s = persistent(t, tg, id, true)
		var again []uint16
		for range first {
			m := s.receive()
			again = append(again, m.id)
		}
		if !slices.Equal(first, again) {
			t.Fatalf("re-sent in id order %v, first sent in %v", again, first)
		}
	})
}

// TestMQTT_4_6_0_2: the server sends PUBACKs in the order it received the QoS 1 PUBLISHes.
func TestMQTT_4_6_0_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		var pkts [][]byte
		for i := uint16(1); i <= 20; i++ {
			pkts = append(pkts, pub{topic: topic, payload: []byte("x"), qos: 1, id: 100 - i}.encode(false))
		}
		c.send(pkts...)
		for i := uint16(1); i <= 20; i++ {
			if a := c.expect(typePuback); a.id != 100-i {
				t.Fatalf("PUBACK #%d has id %d, want %d", i, a.id, 100-i)
			}
		}
	})
}

// TestMQTT_4_6_0_3: the server sends PUBRECs in the order it received the QoS 2 PUBLISHes.
// Profile aws sends none: it ignores QoS 2 PUBLISH.
func TestMQTT_4_6_0_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		var pkts [][]byte
		for i := uint16(1); i <= 10; i++ {
			pkts = append(pkts, pub{topic: topic, payload: []byte("x"), qos: 2, id: 50 - i}.encode(false))
		}
		c.send(pkts...)
		if tg.aws {
			c.ping()
			return
		}
		for i := uint16(1); i <= 10; i++ {
			if r := c.expect(typePubrec); r.id != 50-i {
				t.Fatalf("PUBREC #%d has id %d, want %d", i, r.id, 50-i)
			}
		}
		for i := uint16(1); i <= 10; i++ {
			c.send(ackPacket(typePubrel, 50-i))
			c.expect(typePubcomp)
		}
	})
}

// TestMQTT_4_6_0_4: as a QoS 2 sender the server sends PUBRELs in the order it received the
// PUBRECs. Profile aws has no QoS 2 deliveries: the subscription is granted QoS 1.
func TestMQTT_4_6_0_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 2, tg.maxQoS())
		p := tg.fresh(t)
		if tg.aws {
			// No QoS 2 deliveries: the flow is QoS 1 and no PUBREL ever comes.
			for i := 0; i < 3; i++ {
				p.publish(pub{topic: topic, payload: []byte{byte('a' + i)}, qos: 1})
				if m := s.receive(); m.qos != 1 {
					t.Fatalf("got %v, want QoS 1", m)
				}
			}
			s.ping()
			return
		}
		var ids []uint16
		for i := 0; i < 3; i++ {
			p.publish(pub{topic: topic, payload: []byte{byte('a' + i)}, qos: 2})
			ids = append(ids, s.receiveRaw().id)
		}
		order := []uint16{ids[2], ids[0], ids[1]}
		var recs [][]byte
		for _, id := range order {
			recs = append(recs, ackPacket(typePubrec, id))
		}
		s.send(recs...)
		for _, id := range order {
			if r := s.expect(typePubrel); r.id != id {
				t.Fatalf("PUBREL for id %d, want %d (PUBRECs sent in order %v)", r.id, id, order)
			}
			s.send(ackPacket(typePubcomp, id))
		}
	})
}

// TestMQTT_4_6_0_5: by default a topic is ordered: QoS 0 messages from one client reach a
// subscriber in the order they were published.
func TestMQTT_4_6_0_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 0, 0)
		p := tg.fresh(t)
		var pkts [][]byte
		for i := 0; i < 30; i++ {
			pkts = append(pkts, pub{topic: topic, payload: []byte(fmt.Sprint(i))}.encode(false))
		}
		p.send(pkts...)
		for i := 0; i < 30; i++ {
			if m := s.receive(); string(m.payload) != fmt.Sprint(i) {
				t.Fatalf("message #%d is %q, want %q", i, m.payload, fmt.Sprint(i))
			}
		}
	})
}

// TestMQTT_4_6_0_6: messages of one topic and QoS published by one client reach every subscriber
// in the order they were received.
func TestMQTT_4_6_0_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		a, b := tg.fresh(t), tg.fresh(t)
		a.sub1(base+"/t", 1, 1)
		b.sub1(base+"/+", 1, 1)
		p := tg.fresh(t)
		var pkts [][]byte
		for i := 1; i <= 30; i++ {
			pkts = append(pkts, pub{topic: base + "/t", payload: []byte(fmt.Sprint(i)), qos: 1, id: uint16(i)}.encode(false))
		}
		p.send(pkts...)
		for i := 1; i <= 30; i++ {
			p.expect(typePuback)
		}
		for name, s := range map[string]*client{"exact": a, "wildcard": b} {
			for i := 1; i <= 30; i++ {
				if m := s.receive(); string(m.payload) != fmt.Sprint(i) {
					t.Fatalf("%s subscriber: message #%d is %q, want %q", name, i, m.payload, fmt.Sprint(i))
				}
			}
		}
	})
}

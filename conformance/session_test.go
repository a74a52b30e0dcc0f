package conformance

import (
	"testing"
	"time"
)

// persistent connects clientID with clean session 0 and requires the given session present flag.
func persistent(t *testing.T, tg *target, clientID string, present bool) *client {
	t.Helper()
	c, ack := tg.session(t, clientID, false)
	if ack.sessionPresent != present {
		t.Fatalf("CONNACK session present %v, want %v", ack.sessionPresent, present)
	}
	return c
}

// maxQoS is the highest QoS a profile supports: AWS IoT Core has no QoS 2.
func (tg *target) maxQoS() byte {
	if tg.aws {
		return 1
	}
	return 2
}

// TestMQTT_3_1_2_4: with clean session 0 the server resumes the stored session: subscriptions
// made on an earlier connection still deliver.
func TestMQTT_3_1_2_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		c := persistent(t, tg, id, false)
		c.sub1(topic, 1, 1)
		c.disconnect()

		c = persistent(t, tg, id, true)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("resumed"), qos: 1})
		c.receiveOn(topic, "resumed")
	})
}

// TestMQTT_3_1_2_5: while a clean-session-0 client is offline the server keeps QoS 1 and QoS 2
// messages for its subscriptions and delivers them when it comes back (QoS 1 only in profile
// aws, which has no QoS 2).
func TestMQTT_3_1_2_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		c := persistent(t, tg, id, false)
		c.sub1(topic, tg.maxQoS(), tg.maxQoS())
		c.disconnect()

		p := tg.fresh(t)
		p.publish(pub{topic: topic, payload: []byte("one"), qos: 1})
		if !tg.aws {
			p.publish(pub{topic: topic, payload: []byte("two"), qos: 2})
		}
		c = persistent(t, tg, id, true)
		want := map[string]byte{"one": 1, "two": 2}
		if tg.aws {
			delete(want, "two")
		}
		for range len(want) { // different QoS: no order between them
			m := c.receive()
			if q, ok := want[string(m.payload)]; !ok || m.topic != topic || m.qos != q {
				t.Fatalf("got %v, want the queued messages %v (payload: QoS)", m, want)
			}
			delete(want, string(m.payload))
		}
	})
}

// TestMQTT_3_1_2_6: clean session 1 discards any stored session, and the new session is not kept
// after the connection ends.
func TestMQTT_3_1_2_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic, sentinel := unique(), "cf/"+unique(), "cf/"+unique()+"/sentinel"
		c := persistent(t, tg, id, false)
		c.sub1(topic, 1, 1)
		c.disconnect()

		c, ack := tg.session(t, id, true)
		if ack.sessionPresent {
			t.Fatalf("clean session 1: CONNACK session present 1")
		}
		c.sub1(sentinel, 1, 1)
		p := tg.fresh(t)
		p.publish(pub{topic: topic, payload: []byte("old subscription"), qos: 1})
		p.publish(pub{topic: sentinel, payload: []byte("end"), qos: 1})
		c.expectOnlySentinel(sentinel)
		c.disconnect()

		persistent(t, tg, id, false)
	})
}

// TestMQTT_3_1_2_7: retained messages are not session state: they outlive the session of the
// client that published them.
func TestMQTT_3_1_2_7(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		p := tg.fresh(t)
		p.publish(pub{topic: topic, payload: []byte("outlives"), qos: 1, retain: true})
		p.disconnect()

		c := tg.fresh(t)
		c.sub1(topic, 1, 1)
		c.receiveOn(topic, "outlives")
	})
}

// TestMQTT_3_1_3_2: the client identifier names the session: another client id does not get
// its messages, its own reconnection does.
func TestMQTT_3_1_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		a, b, topic, sentinel := unique(), unique(), "cf/"+unique(), "cf/"+unique()+"/sentinel"
		c := persistent(t, tg, a, false)
		c.sub1(topic, 1, 1)
		c.disconnect()
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("for a"), qos: 1})

		other := persistent(t, tg, b, false)
		other.sub1(sentinel, 1, 1)
		tg.fresh(t).pub0(sentinel, "end")
		other.expectOnlySentinel(sentinel)

		c = persistent(t, tg, a, true)
		c.receiveOn(topic, "for a")
	})
}

// TestMQTT_3_1_4_3: after a successful CONNECT the server applies clean session: a takeover with
// clean session 0 continues the session of the connection it replaces.
func TestMQTT_3_1_4_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		old := persistent(t, tg, id, false)
		old.sub1(topic, 1, 1)
		niu := persistent(t, tg, id, true)
		old.expectClosed()
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("continued"), qos: 1})
		niu.receiveOn(topic, "continued")
	})
}

// TestMQTT_3_2_2_1: a connection accepted with clean session 1 has session present 0, even when
// a session was stored for the client id.
func TestMQTT_3_2_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		c := persistent(t, tg, id, false)
		c.sub1("cf/"+id, 1, 1)
		c.disconnect()
		if _, ack := tg.session(t, id, true); ack.sessionPresent {
			t.Fatal("clean session 1 after a stored session: CONNACK session present 1")
		}
	})
}

// TestMQTT_3_2_2_2: a clean-session-0 connection for which a session is stored has session
// present 1.
func TestMQTT_3_2_2_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		c := persistent(t, tg, id, false)
		c.sub1("cf/"+id, 1, 1)
		c.disconnect()
		persistent(t, tg, id, true)
	})
}

// TestMQTT_3_2_2_3: a clean-session-0 connection without a stored session has session present 0,
// including a client id whose last session was a clean one.
func TestMQTT_3_2_2_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		persistent(t, tg, unique(), false)
		id := unique()
		c, _ := tg.session(t, id, true)
		c.sub1("cf/"+id, 1, 1)
		c.disconnect()
		persistent(t, tg, id, false)
	})
}

// TestMQTT_4_1_0_1: session state lasts as long as the session, across several connections.
func TestMQTT_4_1_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()
		c := persistent(t, tg, id, false)
		c.sub1(topic, 1, 1)
		c.disconnect()
		persistent(t, tg, id, true).close()
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("still there"), qos: 1})
		c = persistent(t, tg, id, true)
		c.receiveOn(topic, "still there")
	})
}

// TestMQTT_4_1_0_2: a session lasts at least as long as its network connection: an idle clean
// session keeps its subscriptions.
func TestMQTT_4_1_0_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		c := tg.fresh(t)
		c.sub1(topic, 1, 1)
		time.Sleep(time.Second)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("idle"), qos: 1})
		c.receiveOn(topic, "idle")
	})
}

// TestMQTT_4_4_0_1: on reconnection with clean session 0 the server re-sends unacknowledged
// PUBLISH packets (QoS 1 and 2) and PUBREL packets with their original packet identifiers, and
// accepts the client's own re-sent PUBREL. Profile aws has no QoS 2 and re-sends QoS 1 only.
func TestMQTT_4_4_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, t1, t2 := unique(), "cf/"+unique()+"/q1", "cf/"+unique()+"/q2"
		c := persistent(t, tg, id, false)
		c.sub1(t1, 1, 1)
		if !tg.aws {
			c.sub1(t2, 2, 2)
		}
		p := tg.fresh(t)
		p.publish(pub{topic: t1, payload: []byte("qos1"), qos: 1})
		first := c.receiveRaw()
		var second packet
		if !tg.aws {
			p.publish(pub{topic: t2, payload: []byte("qos2"), qos: 2})
			second = c.receiveRaw()
			c.send(ackPacket(typePubrec, second.id))
			if r := c.expect(typePubrel); r.id != second.id {
				t.Fatalf("PUBREL id %d, want %d", r.id, second.id)
			}
		}
		c.close() // neither PUBACK nor PUBCOMP sent

		// The PUBLISH and the PUBREL may come in either order.
		c = persistent(t, tg, id, true)
		resent := 2
		if tg.aws {
			resent = 1
		}
		for i := 0; i < resent; i++ {
			p, err := c.next(waitFor)
			if err != nil {
				t.Fatalf("waiting for re-sent packets: %v", err)
			}
			switch {
			case p.typ == typePublish && p.topic == t1 && p.id == first.id && p.qos == 1 && p.dup:
				c.send(ackPacket(typePuback, p.id))
			case p.typ == typePubrel && !tg.aws && p.id == second.id:
				c.send(ackPacket(typePubcomp, p.id))
			default:
				t.Fatalf("after resuming got %v, want the QoS 1 PUBLISH re-sent with id %d and DUP 1, and (QoS 2) the PUBREL with id %d", p, first.id, second.id)
			}
		}
		c.ping()

		if tg.aws {
			return
		}
		t.Run("clientPubrel", func(t *testing.T) {
			pid, topic := unique(), "cf/"+unique()+"/in"
			s := tg.fresh(t)
			s.sub1(topic, 2, 2)
			pc := persistent(t, tg, pid, false)
			pc.send(pub{topic: topic, payload: []byte("exactly once"), qos: 2, id: 7}.encode(false))
			pc.expect(typePubrec)
			pc.close()
			pc = persistent(t, tg, pid, true)
			pc.send(ackPacket(typePubrel, 7))
			for {
				a, err := pc.next(waitFor)
				if err != nil {
					t.Fatalf("waiting for PUBCOMP 7: %v", err)
				}
				if a.typ == typePubrec && a.id == 7 {
					continue // the server may repeat its PUBREC on resumption
				}
				if a.typ != typePubcomp || a.id != 7 {
					t.Fatalf("got %v, want PUBCOMP 7", a)
				}
				break
			}
			s.receiveOn(topic, "exactly once")
			s.expectNothing(quiet)
		})
	})
}

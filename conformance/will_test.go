package conformance

import (
	"testing"
)

// willWatch watches a will topic and the lifecycle event the emulator publishes (as AWS IoT
// does, on $aws/events/presence/disconnected/<client id>) when the watched client's connection
// has ended. Mochi publishes a will before it runs the disconnect hooks, so a will that is sent
// at all arrives before that event.
type willWatch struct {
	c    *client
	gone string
}

// watchWill subscribes a fresh connection to willTopic and to clientID's disconnected event.
func watchWill(t *testing.T, tg *target, clientID, willTopic string) *willWatch {
	t.Helper()
	w := &willWatch{c: tg.fresh(t), gone: "$aws/events/presence/disconnected/" + clientID}
	codes := w.c.subscribe(sub{willTopic, 1}, sub{w.gone, 1})
	if len(codes) != 2 || codes[0] > 1 || codes[1] > 1 {
		t.Fatalf("watcher SUBACK codes % x, want 01 01", codes)
	}
	return w
}

// wills returns the messages on the will topic delivered before the watched connection's
// disconnected event.
func (w *willWatch) wills() []packet {
	w.c.t.Helper()
	return w.c.until(w.gone)
}

// expectWill requires exactly one will with the given payload before the disconnected event.
func (w *willWatch) expectWill(payload string) packet {
	w.c.t.Helper()
	got := w.wills()
	if len(got) != 1 || string(got[0].payload) != payload {
		w.c.t.Fatalf("want the will %q published once, got %v", payload, got)
	}
	return got[0]
}

// expectNoWill requires that no will was published before the disconnected event.
func (w *willWatch) expectNoWill() {
	w.c.t.Helper()
	if got := w.wills(); len(got) > 0 {
		w.c.t.Fatalf("want no will published, got %v", got)
	}
}

// withWill connects clientID with a QoS 1 will on topic.
func withWill(t *testing.T, tg *target, clientID string, clean bool, topic, payload string, retain bool) *client {
	t.Helper()
	c, _ := tg.connect(t, connectOpts{clientID: clientID, clean: clean, keepAlive: 60,
		will: &willMsg{topic: topic, payload: []byte(payload), qos: 1, retain: retain}})
	return c
}

// TestMQTT_3_1_2_8: the will is published when the connection ends without DISCONNECT: the
// network connection dropping, or the server closing it for a protocol error.
func TestMQTT_3_1_2_8(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("dropped", func(t *testing.T) {
			id, topic := unique(), "cf/"+unique()+"/will"
			w := watchWill(t, tg, id, topic)
			withWill(t, tg, id, true, topic, "dropped", false).close()
			w.expectWill("dropped")
		})
		t.Run("protocolError", func(t *testing.T) {
			id, topic := unique(), "cf/"+unique()+"/will"
			w := watchWill(t, tg, id, topic)
			c := withWill(t, tg, id, true, topic, "violation", false)
			c.send([]byte{typePublish<<4 | 0x06, 5, 0, 1, 'a', 0, 1}) // QoS 3
			c.expectClosed()
			w.expectWill("violation")
		})
	})
}

// TestMQTT_3_1_2_9: with the will flag 1 the will topic and message must be in the payload; a
// CONNECT without them is malformed and the connection ends without CONNACK.
func TestMQTT_3_1_2_9(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x0E)}) // clean, will, QoS 1
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_10: a will is published at most once: once sent it is gone from the session,
// and a later connection of the same persistent session without a will publishes nothing.
func TestMQTT_3_1_2_10(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()+"/will"
		w := watchWill(t, tg, id, topic)
		withWill(t, tg, id, false, topic, "once", false).close()
		w.expectWill("once")

		c, _ := tg.session(t, id, false)
		c.close()
		w.expectNoWill()
	})
}

// TestMQTT_3_1_2_11: with the will flag 0 the will QoS and retain bits must be 0; a CONNECT
// that sets them is malformed and the connection ends without CONNACK.
func TestMQTT_3_1_2_11(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x2A)}) // clean, QoS 1, retain
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_12: with the will flag 0 no will is published when the connection drops, even
// when an earlier connection of the same session had a will (discarded by its DISCONNECT).
func TestMQTT_3_1_2_12(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()+"/will"
		w := watchWill(t, tg, id, topic)
		withWill(t, tg, id, false, topic, "stale", false).disconnect()
		w.expectNoWill()

		c, _ := tg.session(t, id, false)
		c.close()
		w.expectNoWill()
	})
}

// TestMQTT_3_1_2_13: with the will flag 0 the will QoS must be 0.
func TestMQTT_3_1_2_13(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x12)}) // clean, QoS 2
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_14: the will QoS is 0, 1 or 2, never 3. Profile aws refuses a will with QoS 2,
// as AWS IoT Core does: the connection is closed without CONNACK.
func TestMQTT_3_1_2_14(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("qos3", func(t *testing.T) {
			c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60,
				will: &willMsg{topic: "cf/" + unique(), payload: []byte("x"), qos: 3}})
			c.expectClosed()
		})
		t.Run("qos2", func(t *testing.T) {
			c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60,
				will: &willMsg{topic: "cf/" + unique(), payload: []byte("x"), qos: 2}})
			if tg.aws {
				c.expectClosed()
				return
			}
			c.expectConnack(0)
			c.ping()
		})
	})
}

// TestMQTT_3_1_2_15: with the will flag 0 the will retain bit must be 0.
func TestMQTT_3_1_2_15(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x22)}) // clean, retain
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_16: a will with retain 0 is published as a normal message and not retained.
func TestMQTT_3_1_2_16(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic, sentinel := unique(), "cf/"+unique()+"/will", "cf/"+unique()+"/sentinel"
		w := watchWill(t, tg, id, topic)
		withWill(t, tg, id, true, topic, "plain", false).close()
		if p := w.expectWill("plain"); p.retain {
			t.Fatalf("will delivered with RETAIN 1: %v", p)
		}
		later := tg.fresh(t)
		later.subscribe(sub{topic, 1}, sub{sentinel, 1})
		tg.fresh(t).pub0(sentinel, "end")
		later.expectOnlySentinel(sentinel)
	})
}

// TestMQTT_3_1_2_17: a will with retain 1 is published as a retained message: a later subscriber
// receives it with RETAIN 1.
func TestMQTT_3_1_2_17(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()+"/will"
		w := watchWill(t, tg, id, topic)
		withWill(t, tg, id, true, topic, "kept", true).close()
		w.expectWill("kept")

		later := tg.fresh(t)
		later.sub1(topic, 1, 1)
		if p := later.receiveOn(topic, "kept"); !p.retain {
			t.Fatalf("retained will delivered on subscribe without RETAIN: %v", p)
		}
	})
}

// TestMQTT_3_14_1_1: a DISCONNECT with reserved bits set is not a DISCONNECT: the server closes
// the connection and, since the client did not disconnect properly, publishes the will.
func TestMQTT_3_14_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()+"/will"
		w := watchWill(t, tg, id, topic)
		c := withWill(t, tg, id, true, topic, "bad disconnect", false)
		c.send([]byte{typeDisconnect<<4 | 0x01, 0})
		c.expectClosed()
		w.expectWill("bad disconnect")
	})
}

// TestMQTT_3_14_4_2: nothing a client sends after DISCONNECT is processed: a retained PUBLISH
// behind a DISCONNECT in the same write is never stored.
func TestMQTT_3_14_4_2(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique()+"/late", "cf/"+unique()+"/sentinel"
		c := tg.fresh(t)
		c.send(disconnectPacket, pub{topic: topic, payload: []byte("after disconnect"), retain: true}.encode(false))
		c.expectClosed()

		checker := tg.fresh(t)
		checker.subscribe(sub{topic, 1}, sub{sentinel, 1})
		tg.fresh(t).pub0(sentinel, "end")
		checker.expectOnlySentinel(sentinel)
	})
}

// TestMQTT_3_14_4_3: on DISCONNECT the server discards the will without publishing it.
func TestMQTT_3_14_4_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id, topic := unique(), "cf/"+unique()+"/will"
		w := watchWill(t, tg, id, topic)
		withWill(t, tg, id, true, topic, "discarded", false).disconnect()
		w.expectNoWill()
	})
}

// TestMQTT311_NoDisconnectOnShutdown: in MQTT 3.1.1 DISCONNECT goes from client to server only
// (table 2.1), so a server shutting down just closes a 3.1.1 connection; an MQTT 5 client is
// told DISCONNECT 0x8B (Server shutting down). Uses an emulator of its own.
func TestMQTT311_NoDisconnectOnShutdown(t *testing.T) {
	eachProfile(t, func(t *testing.T, shared *target) {
		tg, err := start(shared.profile, t.TempDir())
		if err != nil {
			t.Fatalf("start emulator: %v", err)
		}
		var closed chan error
		t.Cleanup(func() {
			if closed == nil {
				tg.emu.Close()
				return
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		v3 := tg.fresh(t)
		v5, _ := tg.fresh5(t)
		closed = make(chan error, 1)
		go func() { closed <- tg.emu.Close() }()
		v3.expectClosed()
		if d := v5.expect(typeDisconnect); d.code != 0x8B {
			t.Errorf("MQTT 5 client got %v, want DISCONNECT 0x8B", d)
		}
		v5.expectClosed()
	})
}

package conformance

import (
	"testing"
)

// retained publishes a retained message and waits for its acknowledgement (QoS 1) or a ping.
func retained(t *testing.T, tg *target, topic, payload string, qos byte) {
	t.Helper()
	c := tg.fresh(t)
	c.publish(pub{topic: topic, payload: []byte(payload), qos: qos, retain: true})
	c.ping()
}

// onSubscribe subscribes a fresh client to filters and returns what it is sent before a
// sentinel published after the SUBACK: the retained messages the subscription brought.
func onSubscribe(t *testing.T, tg *target, filters ...string) []packet {
	t.Helper()
	sentinel := "cf/" + unique() + "/sentinel"
	s := tg.fresh(t)
	subs := []sub{{sentinel, 1}}
	for _, f := range filters {
		subs = append(subs, sub{f, 1})
	}
	s.subscribe(subs...)
	// The subscriber publishes the sentinel itself: its connection handles the PUBLISH only after
	// the SUBSCRIBE, retained messages included, so the sentinel is queued behind them. A sentinel
	// from another connection can overtake retained messages still being queued after the SUBACK.
	s.pub0(sentinel, "end")
	return s.until(sentinel)
}

// payloads lists the payloads of messages, for failure messages and comparisons.
func payloads(ms []packet) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.payload)
	}
	return out
}

// TestMQTT_3_3_1_5: a retained PUBLISH is stored with its QoS and delivered to later
// subscribers.
func TestMQTT_3_3_1_5(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "stored", 1)
		got := onSubscribe(t, tg, topic)
		if len(got) != 1 || string(got[0].payload) != "stored" || got[0].qos != 1 {
			t.Fatalf("on subscribe got %v, want the retained message at QoS 1", got)
		}
	})
}

// TestMQTT_3_3_1_6: a new subscription receives the retained message of every topic it matches.
// Profile aws sends retained messages on subscribe only for filters without wildcards, as AWS
// IoT Core does.
func TestMQTT_3_3_1_6(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		retained(t, tg, base+"/a", "A", 1)
		retained(t, tg, base+"/b", "B", 1)
		t.Run("exact", func(t *testing.T) {
			if got := onSubscribe(t, tg, base+"/a"); len(got) != 1 || string(got[0].payload) != "A" {
				t.Fatalf("exact filter got %q, want [A]", payloads(got))
			}
		})
		for name, f := range map[string]string{"plus": base + "/+", "hash": base + "/#"} {
			t.Run(name, func(t *testing.T) {
				got := payloads(onSubscribe(t, tg, f))
				if tg.aws {
					if len(got) != 0 {
						t.Fatalf("wildcard filter %q got retained %q, want none (AWS)", f, got)
					}
					return
				}
				if len(got) != 2 || !(got[0] == "A" && got[1] == "B" || got[0] == "B" && got[1] == "A") {
					t.Fatalf("wildcard filter %q got %q, want A and B", f, got)
				}
			})
		}
	})
}

// TestMQTT_3_3_1_7: a retained QoS 0 message replaces the message retained before it (which the
// server may then drop, but never resurrects the old one).
func TestMQTT_3_3_1_7(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "old", 1)
		retained(t, tg, topic, "new", 0)
		got := payloads(onSubscribe(t, tg, topic))
		if len(got) > 1 || len(got) == 1 && got[0] != "new" {
			t.Fatalf("on subscribe got %q, want [new] (or nothing)", got)
		}
	})
}

// TestMQTT_3_3_1_8: a message sent because of a new subscription has RETAIN 1.
func TestMQTT_3_3_1_8(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "flag", 1)
		got := onSubscribe(t, tg, topic)
		if len(got) != 1 || !got[0].retain {
			t.Fatalf("on subscribe got %v, want the retained message with RETAIN 1", got)
		}
	})
}

// TestMQTT_3_3_1_9: a message forwarded to an existing subscription has RETAIN 0, even if it was
// published with RETAIN 1.
func TestMQTT_3_3_1_9(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		// The server scans retained messages for a new subscription after its SUBACK; a ping
		// makes sure that scan is over, or it could find "live" and rightly send it as retained.
		s.ping()
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("live"), qos: 1, retain: true})
		if p := s.receiveOn(topic, "live"); p.retain {
			t.Fatalf("forwarded %v with RETAIN 1", p)
		}
	})
}

// TestMQTT_3_3_1_10: a retained PUBLISH with an empty payload is forwarded to current
// subscribers as usual and removes the retained message of its topic.
func TestMQTT_3_3_1_10(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "to delete", 1)
		s := tg.fresh(t)
		s.sub1(topic, 1, 1)
		s.receiveOn(topic, "to delete")
		tg.fresh(t).publish(pub{topic: topic, qos: 1, retain: true})
		s.receiveOn(topic, "")
		if got := onSubscribe(t, tg, topic); len(got) != 0 {
			t.Fatalf("after the empty retained message a new subscriber got %v, want nothing", got)
		}
	})
}

// TestMQTT_3_3_1_11: an empty retained message is never stored as a retained message.
func TestMQTT_3_3_1_11(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "", 1)
		if got := onSubscribe(t, tg, topic); len(got) != 0 {
			t.Fatalf("a new subscriber got %v, want nothing", got)
		}
	})
}

// TestMQTT_3_3_1_12: a PUBLISH with RETAIN 0 neither stores nor replaces a retained message.
func TestMQTT_3_3_1_12(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic := "cf/" + unique()
		retained(t, tg, topic, "kept", 1)
		tg.fresh(t).publish(pub{topic: topic, payload: []byte("not retained"), qos: 1})
		if got := payloads(onSubscribe(t, tg, topic)); len(got) != 1 || got[0] != "kept" {
			t.Fatalf("on subscribe got %q, want [kept]", got)
		}
		other := "cf/" + unique()
		tg.fresh(t).publish(pub{topic: other, payload: []byte("not retained"), qos: 1})
		if got := onSubscribe(t, tg, other); len(got) != 0 {
			t.Fatalf("a non-retained message was stored: %v", got)
		}
	})
}

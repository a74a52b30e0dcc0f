package conformance

import (
	"bytes"
	"strings"
	"testing"
)

// TestMQTT_1_5_3_1: a string that is not well-formed UTF-8 (here a UTF-16 surrogate or an
// overlong encoding in a topic name) ends the connection.
func TestMQTT_1_5_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, topic := range map[string]string{"surrogate": "cf/\xed\xa0\x80", "overlong": "cf/\xc0\xaf", "truncated": "cf/\xe2\x82"} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pub{topic: topic, payload: []byte("x"), qos: 1, id: 1}.encode(false))
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_1_5_3_2: a string containing U+0000 ends the connection (here in the client
// identifier, which also means no CONNACK, and in a user name).
func TestMQTT_1_5_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("clientID", func(t *testing.T) {
			c := tg.connectRaw(t, connectOpts{clientID: "cf\x00" + unique(), clean: true, keepAlive: 60})
			c.expectClosed()
		})
		t.Run("username", func(t *testing.T) {
			c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, username: str("us\x00er")})
			c.expectClosed()
		})
	})
}

// TestMQTT_1_5_3_3: the sequence EF BB BF (U+FEFF) is part of the string: it is neither skipped
// nor stripped, so a topic with it differs from the topic without it.
func TestMQTT_1_5_3_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		bom := base + "/\ufeffx"
		s := tg.fresh(t)
		s.subscribe(sub{bom, 1}, sub{base + "/sentinel", 1})
		p := tg.fresh(t)
		p.publish(pub{topic: base + "/x", payload: []byte("no bom"), qos: 1})
		p.publish(pub{topic: bom, payload: []byte("bom"), qos: 1})
		p.pub0(base+"/sentinel", "end")
		got := s.until(base + "/sentinel")
		if len(got) != 1 || got[0].topic != bom || !bytes.Contains([]byte(got[0].topic), []byte{0xef, 0xbb, 0xbf}) {
			t.Fatalf("got %v, want only the message published to the topic with U+FEFF, topic intact", got)
		}
	})
}

// TestMQTT_4_7_1_1: wildcard characters are for topic filters only; a topic name made of one is
// a protocol violation that ends the connection.
func TestMQTT_4_7_1_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, topic := range map[string]string{"hash": "#", "plus": "+"} {
			t.Run(name, func(t *testing.T) {
				c := tg.fresh(t)
				c.send(pub{topic: topic, payload: []byte("x")}.encode(false))
				c.expectClosed()
			})
		}
	})
}

// delivered publishes each topic (QoS 1) and returns the topics a subscriber to filter receives.
func delivered(t *testing.T, tg *target, filter string, topics ...string) []string {
	t.Helper()
	sentinel := "cf/" + unique() + "/sentinel"
	s := tg.fresh(t)
	if codes := s.subscribe(sub{filter, 1}, sub{sentinel, 1}); !bytes.Equal(codes, []byte{1, 1}) {
		t.Fatalf("SUBACK for %q: % x, want 01 01", filter, codes)
	}
	p := tg.fresh(t)
	for _, topic := range topics {
		p.publish(pub{topic: topic, payload: []byte("m"), qos: 1})
	}
	p.pub0(sentinel, "end")
	var got []string
	for _, m := range s.until(sentinel) {
		got = append(got, m.topic)
	}
	return got
}

// TestMQTT_4_7_1_2: the multi-level wildcard must be a whole level and the last one; filters
// breaking that are refused with 0x80. A valid one matches every level below (and, in MQTT,
// the parent level itself; AWS IoT Core documents that it does not match the parent).
func TestMQTT_4_7_1_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		t.Run("invalid", func(t *testing.T) {
			c := tg.fresh(t)
			codes := c.subscribe(sub{base + "/#/b", 1}, sub{base + "/tennis#", 1}, sub{base + "#", 1}, sub{"#/" + unique(), 1})
			if !bytes.Equal(codes, []byte{0x80, 0x80, 0x80, 0x80}) {
				t.Fatalf("SUBACK codes % x, want 80 80 80 80", codes)
			}
		})
		t.Run("matching", func(t *testing.T) {
			got := delivered(t, tg, base+"/#", base+"/a", base+"/a/b/c", base, base+"x/a")
			want := []string{base + "/a", base + "/a/b/c", base}
			if tg.aws {
				want = want[:2]
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("filter %s/# delivered %q, want %q", base, got, want)
			}
		})
	})
}

// TestMQTT_4_7_1_3: the single-level wildcard must occupy a whole level; filters breaking that
// are refused with 0x80. A valid one matches exactly one level, including an empty one.
func TestMQTT_4_7_1_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		t.Run("invalid", func(t *testing.T) {
			c := tg.fresh(t)
			codes := c.subscribe(sub{base + "/a+", 1}, sub{base + "/+b", 1}, sub{base + "+/x", 1}, sub{base + "/a+/b", 1})
			if !bytes.Equal(codes, []byte{0x80, 0x80, 0x80, 0x80}) {
				t.Fatalf("SUBACK codes % x, want 80 80 80 80", codes)
			}
		})
		t.Run("matching", func(t *testing.T) {
			got := delivered(t, tg, base+"/+/c", base+"/a/c", base+"/b/c", base+"//c", base+"/a/b/c", base+"/c", base+"/a/c/d")
			want := []string{base + "/a/c", base + "/b/c", base + "//c"}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("filter %s/+/c delivered %q, want %q", base, got, want)
			}
		})
	})
}

// TestMQTT_4_7_2_1: filters starting with a wildcard do not match topic names starting with "$",
// live or retained. Exact "$" filters do match (the emulator's own $aws lifecycle events, and a
// retained "$" topic in profile mqtt; profile aws never stores retained messages on "$" topics).
func TestMQTT_4_7_2_1(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		u := unique()
		event := "$aws/events/presence/connected/" + u
		noDollar := func(t *testing.T, what string, got []packet) {
			t.Helper()
			for _, m := range got {
				if strings.HasPrefix(m.topic, "$") {
					t.Fatalf("%s: a filter starting with a wildcard delivered %v", what, m)
				}
			}
		}
		t.Run("live", func(t *testing.T) {
			exact := tg.fresh(t)
			exact.sub1(event, 1, 1)
			wild := tg.fresh(t)
			sentinel := "cf/" + u + "/sentinel"
			if codes := wild.subscribe(sub{"+/events/presence/connected/" + u, 0}, sub{"+/+/+/+/" + u, 0}, sub{"#", 0}); !bytes.Equal(codes, []byte{0, 0, 0}) {
				t.Fatalf("SUBACK % x, want 00 00 00", codes)
			}
			tg.session(t, u, true)
			exact.receive()
			tg.fresh(t).pub0(sentinel, "end")
			noDollar(t, "lifecycle event", wild.until(sentinel))
		})
		t.Run("retained", func(t *testing.T) {
			topic := "$cf/" + u + "/r"
			p := tg.fresh(t)
			if tg.aws {
				// AWS may refuse a retained publish to a reserved topic; either way nothing is stored.
				p.send(pub{topic: topic, payload: []byte("dollar"), retain: true}.encode(false), pingreqPacket)
				if _, err := p.next(waitFor); isTimeout(err) {
					t.Fatal("no answer to the ping behind a retained publish to a $ topic")
				}
			} else {
				p.publish(pub{topic: topic, payload: []byte("dollar"), qos: 1, retain: true})
			}
			noDollar(t, "retained", onSubscribe(t, tg, "+/"+u+"/r", "#"))
			got := onSubscribe(t, tg, topic)
			switch {
			case tg.aws && len(got) != 0:
				t.Fatalf("profile aws stored a retained message on a $ topic: %v", got)
			case !tg.aws && (len(got) != 1 || string(got[0].payload) != "dollar"):
				t.Fatalf("exact $ filter got %v, want the retained message", got)
			}
		})
	})
}

// TestMQTT_4_7_3_1: topic names and filters are at least one character long: an empty topic name
// ends the connection; an empty filter is refused (SUBACK 0x80) or ends the connection.
func TestMQTT_4_7_3_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("topic", func(t *testing.T) {
			c := tg.fresh(t)
			c.send(pub{topic: "", payload: []byte("x"), qos: 1, id: 1}.encode(false))
			c.expectClosed()
		})
		t.Run("filter", func(t *testing.T) {
			c := tg.fresh(t)
			c.send(subscribePacket(1, false, nil, sub{"", 1}))
			p, err := c.next(waitFor)
			switch {
			case isTimeout(err):
				t.Fatal("SUBSCRIBE with an empty filter: no answer and still open")
			case err == nil && (p.typ != typeSuback || !bytes.Equal(p.codes, []byte{0x80})):
				t.Fatalf("SUBSCRIBE with an empty filter: got %v, want SUBACK 80 or the connection closed", p)
			}
		})
	})
}

// TestMQTT_4_7_3_2: topic names and filters must not contain U+0000; one that does ends the
// connection.
func TestMQTT_4_7_3_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		t.Run("topic", func(t *testing.T) {
			c := tg.fresh(t)
			c.send(pub{topic: "cf/a\x00b", payload: []byte("x"), qos: 1, id: 1}.encode(false))
			c.expectClosed()
		})
		t.Run("filter", func(t *testing.T) {
			c := tg.fresh(t)
			c.send(subscribePacket(1, false, nil, sub{"cf/a\x00b", 1}))
			c.expectClosed()
		})
	})
}

// TestMQTT_4_7_3_4: matching does no normalization: case, Unicode normal form, leading and
// trailing separators all make different topics.
func TestMQTT_4_7_3_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		for name, c := range map[string]struct{ filter, other string }{
			"case":     {base + "/abc", base + "/ABC"},
			"nfc":      {base + "/caf\u00e9", base + "/cafe\u0301"},
			"trailing": {base + "/a", base + "/a/"},
			"double":   {base + "/a/b", base + "/a//b"},
		} {
			t.Run(name, func(t *testing.T) {
				if got := delivered(t, tg, c.filter, c.other, c.filter); len(got) != 1 || got[0] != c.filter {
					t.Fatalf("filter %q delivered %q, want only %q", c.filter, got, c.filter)
				}
			})
		}
		if got := delivered(t, tg, "/"+base, base, "/"+base); len(got) != 1 || got[0] != "/"+base {
			t.Fatalf("filter %q delivered %q, want only itself", "/"+base, got)
		}
	})
}

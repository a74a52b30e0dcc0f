package conformance

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// byteptr is a pointer to b, for connectOpts.rawFlags.
func byteptr(b byte) *byte { return &b }

// TestMQTT_3_1_0_1: the first packet on a connection must be CONNECT; anything else ends it.
func TestMQTT_3_1_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for name, first := range map[string][]byte{
			"PINGREQ":   pingreqPacket,
			"SUBSCRIBE": subscribePacket(1, false, nil, sub{"a/b", 0}),
			"PUBLISH":   pub{topic: "a/b", payload: []byte("x")}.encode(false),
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.dial(t)
				c.send(first)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_3_1_0_2: a second CONNECT on a connection is a protocol violation that ends it.
func TestMQTT_3_1_0_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		c, _ := tg.session(t, id, true)
		c.send(connectPacket(connectOpts{clientID: id, clean: true, keepAlive: 60}))
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_1: a CONNECT with another protocol name is not accepted as MQTT 3.1.1: the
// connection ends, at most after a CONNACK refusing it with a 3.1.1 return code.
func TestMQTT_3_1_2_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{protocol: "MQTX", clientID: unique(), clean: true, keepAlive: 60})
		p, err := c.next(waitFor)
		switch {
		case isTimeout(err):
			t.Fatalf("CONNECT with protocol name MQTX: no answer and still open after %v", waitFor)
		case err != nil:
			return // closed without CONNACK
		case p.typ != typeConnack || p.code == 0 || p.code > 5 || p.sessionPresent:
			t.Fatalf("CONNECT with protocol name MQTX: got %v, want the connection closed (at most a CONNACK with a 3.1.1 refusal code 0x01-0x05 first)", p)
		}
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_2: an unsupported protocol level gets CONNACK 0x01 (unacceptable protocol
// version), then the connection ends.
func TestMQTT_3_1_2_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, level := range []byte{3, 6} {
			t.Run(fmt.Sprintf("level%d", level), func(t *testing.T) {
				c := tg.connectRaw(t, connectOpts{level: level, clientID: unique(), clean: true, keepAlive: 60})
				c.expectConnack(0x01)
				c.expectClosed()
			})
		}
	})
}

// TestMQTT_3_1_2_3: the reserved bit of the connect flags must be 0, or the connection ends.
func TestMQTT_3_1_2_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x03)})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_18: with the user name flag 0, a user name in the payload makes the CONNECT
// malformed: the connection ends without CONNACK.
func TestMQTT_3_1_2_18(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, extra: appendString(nil, "user")})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_19: with the user name flag 1, a missing user name makes the CONNECT malformed.
func TestMQTT_3_1_2_19(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, rawFlags: byteptr(0x82)})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_20: with the password flag 0, a password in the payload makes the CONNECT
// malformed.
func TestMQTT_3_1_2_20(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, username: str("user"), extra: appendString(nil, "secret")})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_21: with the password flag 1, a missing password makes the CONNECT malformed.
func TestMQTT_3_1_2_21(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), keepAlive: 60, username: str("user"), rawFlags: byteptr(0xC2)})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_22: a password without a user name (password flag 1, user name flag 0) is not
// allowed in 3.1.1: the connection ends without CONNACK.
func TestMQTT_3_1_2_22(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, password: []byte("secret")})
		c.expectClosed()
	})
}

// TestMQTT_3_1_2_23: a client that has nothing else to send keeps its connection with PINGREQ
// inside the keep-alive period; the server counts it as activity.
func TestMQTT_3_1_2_23(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, _ := tg.connect(t, connectOpts{clientID: unique(), clean: true, keepAlive: 2})
		for i := 0; i < 4; i++ {
			time.Sleep(time.Second)
			c.ping()
		}
	})
}

// TestMQTT_3_1_2_24: without traffic for 1.5 times the keep-alive the server closes the
// connection. Profile aws raises a keep-alive of 1-29 s to 30 s (disconnect at 45 s), so a
// client with keep-alive 2 is still connected after 4 s.
func TestMQTT_3_1_2_24(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, _ := tg.connect(t, connectOpts{clientID: unique(), clean: true, keepAlive: 2})
		start := time.Now()
		if tg.aws {
			c.expectNothing(4 * time.Second)
			c.ping()
			return
		}
		p, err := c.next(5 * time.Second)
		elapsed := time.Since(start)
		switch {
		case err == nil:
			t.Fatalf("keep-alive 2 s expired: want the connection closed with nothing sent, got %v", p)
		case isTimeout(err):
			t.Fatalf("keep-alive 2 s: still connected after %v of silence (limit 3 s)", elapsed)
		case elapsed < 2*time.Second:
			t.Fatalf("keep-alive 2 s: closed after only %v of silence", elapsed)
		}
	})
}

// TestMQTT_3_1_3_3: a CONNECT without a payload (no client identifier) is malformed.
func TestMQTT_3_1_3_3(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		// Variable header only: protocol name (6), level (1), flags (1), keep-alive (2).
		c := tg.connectRaw(t, connectOpts{clientID: "x", clean: true, keepAlive: 60, truncate: 10})
		c.expectClosed()
	})
}

// TestMQTT_3_1_3_4: a client identifier that is not well-formed UTF-8 makes the CONNECT
// malformed: the connection ends without CONNACK.
func TestMQTT_3_1_3_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: "bad\xff\xfeid", clean: true, keepAlive: 60})
		c.expectClosed()
	})
}

// TestMQTT_3_1_3_5: client identifiers of 1 to 23 letters and digits are accepted.
func TestMQTT_3_1_3_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, id := range []string{"Q", "0123456789abcdefghijkLM"} {
			c, _ := tg.session(t, id, true)
			c.ping()
		}
	})
}

// TestMQTT_3_1_3_6: a zero-length client identifier with clean session 1 is accepted with a
// unique identifier assigned by the server: two such connections live side by side.
func TestMQTT_3_1_3_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		a, _ := tg.session(t, "", true)
		b, _ := tg.session(t, "", true)
		a.ping()
		b.ping()
	})
}

// TestMQTT_3_1_3_8: a zero-length client identifier with clean session 0 gets CONNACK 0x02
// (identifier rejected), then the connection ends.
func TestMQTT_3_1_3_8(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: "", clean: false, keepAlive: 60})
		c.expectConnack(0x02)
		c.expectClosed()
	})
}

// TestMQTT_3_1_3_9: a client identifier the server rejects gets CONNACK 0x02. Profile mqtt
// rejects none of these; profile aws refuses identifiers longer than 128 bytes or starting with
// "$" the way AWS IoT Core does: the connection is closed without CONNACK.
func TestMQTT_3_1_3_9(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		long := func(n int) string { return (unique() + strings.Repeat("x", n))[:n] }
		t.Run("128bytes", func(t *testing.T) {
			c, _ := tg.session(t, long(128), true)
			c.ping()
		})
		for name, id := range map[string]string{"129bytes": long(129), "dollar": "$" + unique()} {
			t.Run(name, func(t *testing.T) {
				c := tg.connectRaw(t, connectOpts{clientID: id, clean: true, keepAlive: 60})
				if tg.aws {
					c.expectClosed()
					return
				}
				c.expectConnack(0)
				c.ping()
			})
		}
	})
}

// TestMQTT_3_1_3_10: a will topic that is not well-formed UTF-8 makes the CONNECT malformed.
func TestMQTT_3_1_3_10(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60,
			will: &willMsg{topic: "will/\xc3\x28", payload: []byte("gone")}})
		c.expectClosed()
	})
}

// TestMQTT_3_1_3_11: a user name that is not well-formed UTF-8 makes the CONNECT malformed.
func TestMQTT_3_1_3_11(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, username: str("user\xed\xa0\x80")})
		c.expectClosed()
	})
}

// TestMQTT_3_1_4_1: a CONNECT that does not conform (here, a client identifier running past the
// end of the packet) is answered by closing the connection without CONNACK.
func TestMQTT_3_1_4_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique() + "padding"
		full := connectPacket(connectOpts{clientID: id, clean: true, keepAlive: 60})
		c := tg.connectRaw(t, connectOpts{clientID: id, clean: true, keepAlive: 60, truncate: len(full) - 2 - 4})
		c.expectClosed()
	})
}

// TestMQTT_3_1_4_2: a CONNECT with the client id of a connected client disconnects the existing
// client; in both profiles the old 3.1.1 connection is closed with no DISCONNECT packet (3.1.1
// has no server DISCONNECT).
func TestMQTT_3_1_4_2(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		old, _ := tg.session(t, id, true)
		niu, _ := tg.session(t, id, true)
		old.expectClosed()
		niu.ping()
	})
}

// TestMQTT_3_1_4_4: a valid CONNECT (here with a will and a user name) is acknowledged with
// CONNACK return code 0.
func TestMQTT_3_1_4_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c, _ := tg.connect(t, connectOpts{clientID: unique(), clean: true, keepAlive: 60, username: str("user"),
			will: &willMsg{topic: "will/" + unique(), payload: []byte("gone"), qos: 1}})
		c.ping()
	})
}

// TestMQTT_3_1_4_5: after refusing a CONNECT the server processes nothing the client sent after
// it: a retained PUBLISH pipelined behind a refused CONNECT is never stored.
func TestMQTT_3_1_4_5(t *testing.T) {
	eachProfileRetaining(t, func(t *testing.T, tg *target) {
		topic, sentinel := "cf/"+unique()+"/leak", "cf/"+unique()+"/sentinel"
		c := tg.dial(t)
		c.send(connectPacket(connectOpts{clientID: "", clean: false, keepAlive: 60}),
			pub{topic: topic, payload: []byte("must not be stored"), retain: true}.encode(false))
		c.expectConnack(0x02)
		c.expectClosed()

		checker := tg.fresh(t)
		checker.subscribe(sub{topic, 1}, sub{sentinel, 1})
		tg.fresh(t).pub0(sentinel, "end")
		checker.expectOnlySentinel(sentinel)
	})
}

// TestMQTT_3_2_0_1: the first packet the server sends is CONNACK, even when the client sends
// more packets right behind its CONNECT.
func TestMQTT_3_2_0_1(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.dial(t)
		c.send(connectPacket(connectOpts{clientID: unique(), clean: true, keepAlive: 60}),
			subscribePacket(1, false, nil, sub{"cf/" + unique(), 1}),
			pingreqPacket)
		c.expectConnack(0)
		if p := c.expect(typeSuback); p.id != 1 || len(p.codes) != 1 || p.codes[0] != 1 {
			t.Fatalf("got %v, want SUBACK(id=1 codes=01)", p)
		}
		c.expect(typePingresp)
	})
}

// TestMQTT_3_2_2_4: a CONNACK with a non-zero return code has session present 0, even for a
// client id that has a stored session.
func TestMQTT_3_2_2_4(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		id := unique()
		c, _ := tg.session(t, id, false)
		c.sub1("cf/"+id, 1, 1)
		c.disconnect()

		for name, o := range map[string]connectOpts{
			"level3":  {level: 3, clientID: id, keepAlive: 60},
			"emptyID": {clientID: "", keepAlive: 60},
		} {
			t.Run(name, func(t *testing.T) {
				c := tg.connectRaw(t, o)
				p := c.expect(typeConnack)
				if p.code == 0 || p.body[0] != 0 {
					t.Fatalf("got %v (acknowledge flags %#x), want a refusal with session present 0", p, p.body[0])
				}
			})
		}
	})
}

// TestMQTT_3_2_2_5: after a CONNACK with a non-zero return code the server closes the
// connection.
func TestMQTT_3_2_2_5(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.connectRaw(t, connectOpts{clientID: "", keepAlive: 60})
		p := c.expect(typeConnack)
		if p.code == 0 {
			t.Fatalf("got %v, want a refusal", p)
		}
		// The client keeps talking; the server must not answer.
		_ = c.trySend(pingreqPacket)
		c.expectClosed()
	})
}

// TestMQTT_3_2_2_6: when no CONNACK return code applies (here, a protocol name whose length runs
// past the packet) the server closes the connection without CONNACK.
func TestMQTT_3_2_2_6(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.dial(t)
		c.send(frame(typeConnect<<4, []byte{0xff, 0xff, 'M', 'Q', 'T', 'T', 4, 2, 0, 60}))
		c.expectClosed()
	})
}

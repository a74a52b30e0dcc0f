package conformance

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The AWS IoT Core limits below have no MQTT statement of their own: MQTT 3.1.1 sets no limit on
// payload size, topic length or depth, or the number of subscriptions. Profile mqtt accepts
// what AWS refuses; profile aws refuses it as AWS does (an MQTT 3.1.1 connection is closed).

// acceptedOrClosed publishes p (QoS 1) from a fresh client and requires profile mqtt to
// acknowledge and deliver it and profile aws to close the connection when refused is true.
func acceptedOrClosed(t *testing.T, tg *target, p pub, refused bool) {
	t.Helper()
	c := tg.fresh(t)
	p.qos, p.id = 1, 1
	if tg.aws && refused {
		c.send(p.encode(false))
		c.expectClosed()
		return
	}
	s := tg.fresh(t)
	if codes := s.subscribe(sub{p.topic, 1}); len(codes) != 1 || codes[0] != 1 {
		t.Fatalf("SUBACK for a %d-byte filter: % x, want 01", len(p.topic), codes)
	}
	c.send(p.encode(false))
	if a := c.expect(typePuback); a.id != 1 {
		t.Fatalf("PUBACK id %d, want 1", a.id)
	}
	m := s.receive()
	if m.topic != p.topic || !bytes.Equal(m.payload, p.payload) {
		t.Fatalf("delivered a %d-byte payload on a %d-byte topic, want %d and %d", len(m.payload), len(m.topic), len(p.payload), len(p.topic))
	}
}

// TestAWS_PayloadSize: AWS IoT Core accepts payloads up to 128 KiB and closes the connection of
// a client that publishes more.
func TestAWS_PayloadSize(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, n := range []int{128 * 1024, 128*1024 + 1} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				acceptedOrClosed(t, tg, pub{topic: "cf/" + unique(), payload: bytes.Repeat([]byte{'p'}, n)}, n > 128*1024)
			})
		}
	})
}

// TestAWS_TopicLength: AWS IoT Core accepts topic names up to 256 bytes.
func TestAWS_TopicLength(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, n := range []int{256, 257} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				topic := "cf/" + unique() + "/"
				topic += strings.Repeat("t", n-len(topic))
				acceptedOrClosed(t, tg, pub{topic: topic, payload: []byte("x")}, n > 256)
			})
		}
	})
}

// TestAWS_TopicLevels: AWS IoT Core accepts at most 7 slashes in a topic name, not counting the
// $aws/rules/<rule>/ prefix of Basic Ingest.
func TestAWS_TopicLevels(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, slashes := range []int{7, 8} {
			t.Run(fmt.Sprint(slashes), func(t *testing.T) {
				topic := "cf/" + unique() + strings.Repeat("/l", slashes-1)
				acceptedOrClosed(t, tg, pub{topic: topic, payload: []byte("x")}, slashes > 7)
			})
		}
		t.Run("basicIngest", func(t *testing.T) {
			c := tg.fresh(t)
			c.publish(pub{topic: "$aws/rules/cfrule/cf/" + unique() + strings.Repeat("/l", 5), payload: []byte("x"), qos: 1})
			c.ping()
		})
	})
}

// TestAWS_FiltersPerSubscribe: AWS IoT Core accepts at most 8 topic filters in one SUBSCRIBE.
func TestAWS_FiltersPerSubscribe(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		for _, n := range []int{8, 9} {
			t.Run(fmt.Sprint(n), func(t *testing.T) {
				base := "cf/" + unique()
				var subs []sub
				for i := 0; i < n; i++ {
					subs = append(subs, sub{fmt.Sprintf("%s/%d", base, i), 1})
				}
				c := tg.fresh(t)
				c.send(subscribePacket(1, false, nil, subs...))
				if tg.aws && n > 8 {
					c.expectClosed()
					return
				}
				if p := c.expect(typeSuback); !bytes.Equal(p.codes, bytes.Repeat([]byte{1}, n)) {
					t.Fatalf("SUBACK codes % x, want %d times 01", p.codes, n)
				}
			})
		}
	})
}

// TestAWS_SubscriptionsPerConnection: AWS IoT Core allows 50 subscriptions per connection.
func TestAWS_SubscriptionsPerConnection(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		base := "cf/" + unique()
		c := tg.fresh(t)
		for i := 0; i < 50; i += 5 {
			var subs []sub
			for j := i; j < i+5; j++ {
				subs = append(subs, sub{fmt.Sprintf("%s/%d", base, j), 1})
			}
			if codes := c.subscribe(subs...); !bytes.Equal(codes, []byte{1, 1, 1, 1, 1}) {
				t.Fatalf("subscriptions %d-%d: SUBACK codes % x, want 01 01 01 01 01", i+1, i+5, codes)
			}
		}
		c.send(subscribePacket(100, false, nil, sub{base + "/51", 1}))
		if tg.aws {
			c.expectClosed()
			return
		}
		if p := c.expect(typeSuback); !bytes.Equal(p.codes, []byte{1}) {
			t.Fatalf("51st subscription: SUBACK codes % x, want 01", p.codes)
		}
	})
}

// TestAWS_NoSysTopics: AWS IoT Core has no $SYS topics; profile aws publishes nothing there.
// MQTT 3.1.1 leaves $SYS to the server, so profile mqtt is only required to answer the SUBSCRIBE.
func TestAWS_NoSysTopics(t *testing.T) {
	eachProfile(t, func(t *testing.T, tg *target) {
		c := tg.fresh(t)
		codes := c.subscribe(sub{"$SYS/#", 0})
		if len(codes) != 1 || codes[0] > 2 {
			t.Fatalf("SUBACK for $SYS/#: % x", codes)
		}
		if tg.aws {
			c.expectNothing(quiet)
		}
	})
}

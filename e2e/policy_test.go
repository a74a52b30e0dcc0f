package e2e

import (
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
)

// connectLost connects a 3.1.1 client and returns it with a channel closed when the server drops it.
func connectLost(t *testing.T, addr, clientID string, cfg *tls.Config) (paho.Client, chan struct{}) {
	t.Helper()
	lost := make(chan struct{})
	c, err := connectPaho(t, addr, clientID, cfg, func(error) { close(lost) })
	if err != nil {
		t.Fatalf("connect %s: %v", clientID, err)
	}
	return c, lost
}

func waitLost(t *testing.T, lost chan struct{}, what string) {
	t.Helper()
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: the connection was not closed", what)
	}
}

// TestAWSReactionsMQTT311: under profile aws, a publish or subscribe outside the policy closes the
// connection, and the refused message reaches no one.
func TestAWSReactionsMQTT311(t *testing.T) {
	emu := startEmulator(t, "")
	a, b := device(t, emu, "thing-a"), device(t, emu, "thing-b")

	t.Run("subscribe to another thing's topics", func(t *testing.T) {
		c, lost := connectLost(t, emu.MQTTAddr(), "thing-a", tlsConfig(t, a))
		c.Subscribe("things/thing-b/#", 1, nil)
		waitLost(t, lost, "refused SUBSCRIBE")
	})

	for _, qos := range []byte{0, 1} {
		t.Run("publish to another thing's topic", func(t *testing.T) {
			sub, err := connectPaho(t, emu.MQTTAddr(), "thing-b", tlsConfig(t, b), nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan string, 4)
			if err := wait(t, sub.Subscribe("things/thing-b/#", 1, func(_ paho.Client, m paho.Message) { got <- string(m.Payload()) })); err != nil {
				t.Fatal(err)
			}
			pub, lost := connectLost(t, emu.MQTTAddr(), "thing-a", tlsConfig(t, a))
			pub.Publish("things/thing-b/cmd", qos, false, "forged")
			waitLost(t, lost, "refused PUBLISH")
			// thing-b's own message arrives; the forged one, routed before it if at all, does not.
			if err := wait(t, sub.Publish("things/thing-b/cmd", 1, false, "own")); err != nil {
				t.Fatal(err)
			}
			if m := <-got; m != "own" {
				t.Fatalf("qos %d: received %q, the refused publish was delivered", qos, m)
			}
			sub.Disconnect(100)
		})
	}
}

// receivePolicy lets a thing subscribe to room/#, but not receive room/secret.
const receivePolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:*:*:client/${iot:Connection.Thing.ThingName}"},
 {"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":"arn:aws:iot:*:*:topic/room/*"},
 {"Effect":"Deny","Action":"iot:Receive","Resource":"arn:aws:iot:*:*:topic/room/secret"},
 {"Effect":"Allow","Action":"iot:Subscribe","Resource":"arn:aws:iot:*:*:topicfilter/room/#"}]}`

// TestReceiveDenySkipsDelivery: iot:Receive is decided per delivery; a denied message is skipped
// silently and the connection stays.
func TestReceiveDenySkipsDelivery(t *testing.T) {
	emu := startEmulator(t, "")
	d, err := emu.CreateDevice("listener-1", receivePolicy)
	if err != nil {
		t.Fatal(err)
	}
	c, err := connectPaho(t, emu.ALPNAddr(), "listener-1", tlsConfig(t, d, listener.ProtocolMQTTCA), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 4)
	if err := wait(t, c.Subscribe("room/#", 1, func(_ paho.Client, m paho.Message) { got <- m.Topic() })); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"room/secret", "room/open"} {
		if err := wait(t, c.Publish(topic, 1, false, "x")); err != nil {
			t.Fatal(err)
		}
	}
	if topic := <-got; topic != "room/open" {
		t.Fatalf("first delivery %q, want room/open (room/secret is denied iot:Receive)", topic)
	}
	if !c.IsConnected() {
		t.Fatal("a denied delivery closed the connection")
	}
}

// TestWillOnForbiddenTopic: a will message on a topic the policy does not allow refuses the CONNECT.
func TestWillOnForbiddenTopic(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "willing")
	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("willing").
		SetTLSConfig(tlsConfig(t, d)).SetProtocolVersion(4).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	opts.SetWill("things/someone-else/will", "gone", 1, false)
	c := paho.NewClient(opts)
	tok := c.Connect()
	tok.WaitTimeout(10 * time.Second)
	if tok.Error() == nil {
		c.Disconnect(100)
		t.Fatal("CONNECT with a will on a forbidden topic was accepted")
	}
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "willing" && r.Outcome != "" })
	if rec.Outcome != "refused" {
		t.Fatalf("transcript outcome %q, want refused", rec.Outcome)
	}
	opts.SetWill("things/willing/will", "gone", 1, false)
	if _, err := connectPaho(t, emu.MQTTAddr(), "willing", tlsConfig(t, d), nil); err != nil {
		// connectPaho builds its own options without the will; the point is the same certificate works.
		t.Fatalf("connect without the forbidden will: %v", err)
	}
}

// connect5 opens an MQTT 5 session with paho.golang and returns the client and the CONNACK.
func connect5(t *testing.T, addr, clientID string, cfg *tls.Config) (*paho5.Client, *paho5.Connack, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { conn.Close() })
	// tls.Conn is not safe for concurrent writes; paho.golang writes from several goroutines.
	c := paho5.NewClient(paho5.ClientConfig{Conn: packets.NewThreadSafeConn(conn)})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho5.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true})
	return c, ack, err
}

// TestMQTT5ReasonCodes: MQTT 5 clients get AWS's reason codes: CONNACK 0x87, SUBACK 0x87 and
// PUBACK 0x87 (Not authorized).
func TestMQTT5ReasonCodes(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "five")

	_, ack, err := connect5(t, emu.MQTTAddr(), "not-five", tlsConfig(t, d))
	if err == nil || ack == nil || ack.ReasonCode != 0x87 {
		t.Fatalf("CONNACK %+v, %v; want reason 0x87 for a client id outside the policy", ack, err)
	}

	c, _, err := connect5(t, emu.MQTTAddr(), "five", tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	suback, err := c.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{
		{Topic: "things/five/#", QoS: 1}, {Topic: "things/other/#", QoS: 1},
	}})
	if err != nil && suback == nil {
		t.Fatal(err)
	}
	if len(suback.Reasons) != 2 || suback.Reasons[0] != 1 || suback.Reasons[1] != 0x87 {
		t.Fatalf("SUBACK reasons %x, want [01 87]", suback.Reasons)
	}
	resp, err := c.Publish(ctx, &paho5.Publish{Topic: "things/other/x", QoS: 1, Payload: []byte("x")})
	if resp == nil || resp.ReasonCode != 0x87 {
		t.Fatalf("PUBACK %+v, %v; want reason 0x87", resp, err)
	}
	if _, err := c.Publish(ctx, &paho5.Publish{Topic: "things/five/x", QoS: 1, Payload: []byte("x")}); err != nil {
		t.Fatalf("allowed publish after a refused one: %v", err)
	}
}

// TestProfileMQTT: profile mqtt answers a refused subscription with SUBACK 0x80 and a refused
// QoS 1 publish with a PUBACK (MQTT-3.3.5-2), keeping the connection.
func TestProfileMQTT(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) { c.Profile = "mqtt" })
	d := device(t, emu, "strict")
	c, err := connectPaho(t, emu.MQTTAddr(), "strict", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := c.Subscribe("things/other/#", 1, nil)
	wait(t, tok) // paho reports the 0x80 as an error; the code itself is checked below
	if got := tok.(*paho.SubscribeToken).Result()["things/other/#"]; got != 0x80 {
		t.Fatalf("SUBACK %#x, want 0x80", got)
	}
	if err := wait(t, c.Publish("things/other/x", 1, false, "x")); err != nil {
		t.Fatalf("refused QoS 1 publish was not acknowledged: %v", err)
	}
	if !c.IsConnected() {
		t.Fatal("profile mqtt closed the connection")
	}
}

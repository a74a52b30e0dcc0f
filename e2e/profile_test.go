package e2e

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
)

// openPolicy allows every IoT action, so these tests see the profile's rules alone.
const openPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"*"}]}`

func openDevice(t *testing.T, emu *emulator.Emulator) *emulator.Device {
	t.Helper()
	d, err := emu.CreateDevice("open", openPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// expectNothing fails if a message arrives on ch within d.
func expectNothing(t *testing.T, ch <-chan paho.Message, d time.Duration, what string) {
	t.Helper()
	select {
	case m := <-ch:
		t.Fatalf("%s: received %q on %s", what, m.Payload(), m.Topic())
	case <-time.After(d):
	}
}

func collect(ch chan paho.Message) paho.MessageHandler {
	return func(_ paho.Client, m paho.Message) { ch <- m }
}

// TestAWSProfileQoS: QoS 2 is not supported: a QoS 2 publish is ignored (no acknowledgement, not
// routed), a QoS 2 subscription is granted QoS 1, and a will with QoS 2 refuses the CONNECT.
func TestAWSProfileQoS(t *testing.T) {
	emu := startEmulator(t, "")
	d := openDevice(t, emu)
	got := make(chan paho.Message, 4)
	sub, err := connectPaho(t, emu.MQTTAddr(), "qos-sub", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	tok := sub.Subscribe("qos/test", 2, collect(got))
	if err := wait(t, tok); err != nil {
		t.Fatal(err)
	}
	if granted := tok.(*paho.SubscribeToken).Result()["qos/test"]; granted != 1 {
		t.Fatalf("QoS 2 subscription granted %d, want 1", granted)
	}
	pub, err := connectPaho(t, emu.MQTTAddr(), "qos-pub", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	qos2 := pub.Publish("qos/test", 2, false, "two")
	if qos2.WaitTimeout(time.Second) {
		t.Fatalf("QoS 2 publish was acknowledged (err %v)", qos2.Error())
	}
	if err := wait(t, pub.Publish("qos/test", 1, false, "one")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; string(m.Payload()) != "one" {
		t.Fatalf("received %q first, the QoS 2 publish was routed", m.Payload())
	}

	opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("will2").
		SetTLSConfig(tlsConfig(t, d)).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	opts.SetWill("qos/will", "bye", 2, false)
	c := paho.NewClient(opts)
	if ct := c.Connect(); ct.WaitTimeout(10*time.Second) && ct.Error() == nil {
		c.Disconnect(0)
		t.Fatal("CONNECT with a QoS 2 will was accepted")
	}
}

// TestAWSProfileRetained: retained messages are sent on subscribe only for exact filters, are not
// stored on $ topics, and an empty retained payload deletes.
func TestAWSProfileRetained(t *testing.T) {
	emu := startEmulator(t, "")
	d := openDevice(t, emu)
	pub, err := connectPaho(t, emu.MQTTAddr(), "ret-pub", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct{ topic, payload string }{{"ret/a", "kept"}, {"$aws/custom/r", "dollar"}, {"ret/gone", "soon gone"}, {"ret/gone", ""}} {
		if err := wait(t, pub.Publish(m.topic, 1, true, m.payload)); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := connectPaho(t, emu.MQTTAddr(), "ret-sub", tlsConfig(t, d), nil)
	if err != nil {
		t.Fatal(err)
	}
	wild := make(chan paho.Message, 4)
	if err := wait(t, sub.Subscribe("ret/+", 1, collect(wild))); err != nil {
		t.Fatal(err)
	}
	expectNothing(t, wild, 300*time.Millisecond, "wildcard subscription")
	for _, tc := range []struct{ topic, want string }{{"ret/a", "kept"}, {"$aws/custom/r", ""}, {"ret/gone", ""}} {
		ch := make(chan paho.Message, 4)
		if err := wait(t, sub.Subscribe(tc.topic, 1, collect(ch))); err != nil {
			t.Fatal(err)
		}
		if tc.want == "" {
			expectNothing(t, ch, 300*time.Millisecond, "exact subscription to "+tc.topic)
			continue
		}
		select {
		case m := <-ch:
			if string(m.Payload()) != tc.want || !m.Retained() {
				t.Fatalf("%s: got %q retained=%v", tc.topic, m.Payload(), m.Retained())
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: retained message not sent on an exact subscription", tc.topic)
		}
	}
}

// TestAWSProfileLimits: client ids over 128 bytes or starting with $, topics over 7 slashes or
// 256 bytes, payloads over 128 KiB, more than 8 filters per SUBSCRIBE and more than 50
// subscriptions per connection all end the connection.
func TestAWSProfileLimits(t *testing.T) {
	emu := startEmulator(t, "")
	d := openDevice(t, emu)
	for _, id := range []string{strings.Repeat("x", 129), "$reserved"} {
		if got, err := rawConnect(t, emu.MQTTAddr(), id, tlsConfig(t, d)); err != nil || len(got) != 0 {
			t.Fatalf("client id %.12q…: got %x %v, want closed with no CONNACK", id, got, err)
		}
	}
	if got, _ := rawConnect(t, emu.MQTTAddr(), strings.Repeat("x", 128), tlsConfig(t, d)); len(got) < 4 || got[3] != 0 {
		t.Fatalf("128-byte client id refused: %x", got)
	}
	cases := []struct {
		name string
		act  func(c paho.Client)
	}{
		{"8 slashes", func(c paho.Client) { c.Publish("a/b/c/d/e/f/g/h/i", 1, false, "x") }},
		{"257-byte topic", func(c paho.Client) { c.Publish(strings.Repeat("t", 257), 1, false, "x") }},
		{"payload over 128 KiB", func(c paho.Client) { c.Publish("big", 1, false, bytes.Repeat([]byte("x"), 128*1024+1)) }},
		{"9 filters", func(c paho.Client) {
			filters := map[string]byte{}
			for i := range 9 {
				filters[fmt.Sprintf("f/%d", i)] = 0
			}
			c.SubscribeMultiple(filters, nil)
		}},
		{"51 subscriptions", func(c paho.Client) {
			for i := range 51 {
				c.Subscribe(fmt.Sprintf("s/%d", i), 0, nil).WaitTimeout(2 * time.Second)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, lost := connectLost(t, emu.MQTTAddr(), "limits", tlsConfig(t, d))
			tc.act(c)
			waitLost(t, lost, tc.name)
		})
	}
	t.Run("within the limits", func(t *testing.T) {
		c, err := connectPaho(t, emu.MQTTAddr(), "within", tlsConfig(t, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		filters := map[string]byte{}
		for i := range 8 {
			filters[fmt.Sprintf("a/b/c/d/e/f/g/%d", i)] = 0
		}
		if err := wait(t, c.SubscribeMultiple(filters, nil)); err != nil {
			t.Fatal(err)
		}
		// The Basic Ingest prefix $aws/rules/<rule>/ does not count towards the 7 slashes.
		if err := wait(t, c.Publish("$aws/rules/r/a/b/c/d/e/f/g/h", 1, false, "x")); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("a/b/c/d/e/f/g/h", 1, false, bytes.Repeat([]byte("x"), 128*1024))); err != nil {
			t.Fatal(err)
		}
		if !c.IsConnected() {
			t.Fatal("connection closed within AWS's limits")
		}
	})
}

// TestAWSProfileKeepAlive: keep-alives are clamped to 30–1200 s; MQTT 5 clients are told.
func TestAWSProfileKeepAlive(t *testing.T) {
	emu := startEmulator(t, "")
	d := openDevice(t, emu)
	for _, tc := range []struct {
		asked uint16
		want  uint16
	}{{5, 30}, {0, 1200}, {3000, 1200}} {
		conn, err := tls.Dial("tcp", emu.MQTTAddr(), tlsConfig(t, d))
		if err != nil {
			t.Fatal(err)
		}
		body := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 0x02, byte(tc.asked >> 8), byte(tc.asked), 0, 0, 2, 'k', 'a'}
		conn.Write(append([]byte{0x10, byte(len(body))}, body...))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		ack := make([]byte, 64)
		n, _ := conn.Read(ack)
		conn.Close()
		// CONNACK properties: Server Keep Alive is property 0x13 followed by two bytes.
		i := bytes.IndexByte(ack[:n], 0x13)
		if n < 5 || ack[0] != 0x20 || i < 0 || i+2 >= n || uint16(ack[i+1])<<8|uint16(ack[i+2]) != tc.want {
			t.Fatalf("keep-alive %d: CONNACK %x, want Server Keep Alive %d", tc.asked, ack[:n], tc.want)
		}
	}
}

// TestTakeoverClosesOldConnection: a second connection with the same client id wins; the old one
// is closed without any packet (3.1.1 servers never send DISCONNECT).
func TestTakeoverClosesOldConnection(t *testing.T) {
	for _, profile := range []string{"aws", "mqtt"} {
		t.Run(profile, func(t *testing.T) {
			emu := startEmulator(t, "", func(c *emulator.Config) { c.Profile = profile })
			d := openDevice(t, emu)
			old, err := tls.Dial("tcp", emu.MQTTAddr(), tlsConfig(t, d))
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			old.Write(connectPacket("twin"))
			ack := make([]byte, 4)
			old.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(old, ack); err != nil || ack[3] != 0 {
				t.Fatalf("first connection: %x %v", ack, err)
			}
			if got, err := rawConnect(t, emu.MQTTAddr(), "twin", tlsConfig(t, d)); err != nil || len(got) < 4 || got[3] != 0 {
				t.Fatalf("second connection: %x %v", got, err)
			}
			rest, err := io.ReadAll(old)
			var ne net.Error
			if isTimeout := err != nil && errorsAs(err, &ne) && ne.Timeout(); isTimeout {
				t.Fatal("old connection still open after takeover")
			}
			if len(rest) != 0 {
				t.Fatalf("old 3.1.1 connection received %x before closing, want nothing", rest)
			}
		})
	}
}

// TestSessionExpiry: a 3.1.1 persistent session outlives its connection for --session-expiry.
func TestSessionExpiry(t *testing.T) {
	emu := startEmulator(t, "", func(c *emulator.Config) { c.SessionExpiry = time.Second })
	d := openDevice(t, emu)
	connect := func() bool {
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("keeper").
			SetTLSConfig(tlsConfig(t, d)).SetCleanSession(false).SetAutoReconnect(false)
		c := paho.NewClient(opts)
		tok := c.Connect()
		if err := wait(t, tok); err != nil {
			t.Fatal(err)
		}
		present := tok.(*paho.ConnectToken).SessionPresent()
		wait(t, c.Subscribe("keep/me", 1, nil))
		c.Disconnect(100)
		return present
	}
	connect()
	if !connect() {
		t.Fatal("session not present on immediate reconnect")
	}
	// The expiry sweep runs every second; three seconds of absence is past the one-second expiry.
	time.Sleep(3 * time.Second)
	if connect() {
		t.Fatal("persistent session still present after its expiry")
	}
}

// TestMosquittoAgainstAWSLimits: mosquitto's clients meet the same rules.
func TestMosquittoAgainstAWSLimits(t *testing.T) {
	needTools(t, "mosquitto_pub", "mosquitto_sub")
	emu := startEmulator(t, "")
	d := openDevice(t, emu)
	dir := t.TempDir()
	files := writeDeviceFiles(t, dir, d, emu)
	args := func(extra ...string) []string {
		return append([]string{"-h", "localhost", "-p", portOfAddr(emu.MQTTAddr()), "--cafile", files.ca, "--cert", files.cert, "--key", files.key}, extra...)
	}
	if out, err := run(t, "mosquitto_pub", args("-i", "$reserved", "-t", "x", "-m", "x")...); err == nil {
		t.Fatalf("mosquitto_pub with client id $reserved succeeded:\n%s", out)
	}
	if out, err := run(t, "mosquitto_pub", args("-i", "deep", "-t", "a/b/c/d/e/f/g/h/i", "-m", "x", "-q", "1")...); err == nil {
		t.Fatalf("mosquitto_pub to a topic with 8 slashes succeeded:\n%s", out)
	}
	if out, err := run(t, "mosquitto_pub", args("-i", "keeper", "-t", "m/retained", "-m", "kept", "-r", "-q", "1")...); err != nil {
		t.Fatalf("retained publish: %v\n%s", err, out)
	}
	out, err := run(t, "mosquitto_sub", args("-i", "exact", "-t", "m/retained", "-C", "1", "-W", "5")...)
	if err != nil || strings.TrimSpace(out) != "kept" {
		t.Fatalf("exact subscription did not get the retained message: %v %q", err, out)
	}
	out, _ = run(t, "mosquitto_sub", args("-i", "wild", "-t", "m/+", "-C", "1", "-W", "2")...)
	if strings.Contains(out, "kept") {
		t.Fatalf("wildcard subscription got the retained message: %q", out)
	}
	out, err = run(t, "mosquitto_sub", args("-i", "q2", "-t", "m/q2", "-q", "2", "-d", "-C", "1", "-W", "2")...)
	if !strings.Contains(out, "Subscribed (mid: 1): 1") {
		t.Fatalf("QoS 2 subscription not granted QoS 1: %v\n%s", err, out)
	}
}

type deviceFiles struct{ ca, cert, key string }

// writeDeviceFiles writes a device's credentials where command-line clients can read them.
func writeDeviceFiles(t *testing.T, dir string, d *emulator.Device, emu *emulator.Emulator) deviceFiles {
	t.Helper()
	f := deviceFiles{ca: dir + "/root-ca.pem", cert: dir + "/certificate.pem.crt", key: dir + "/private.pem.key"}
	for path, data := range map[string][]byte{f.ca: emu.RootCAPEM(), f.cert: []byte(d.CertificatePEM), f.key: []byte(d.PrivateKeyPEM)} {
		if err := writeFile(path, data); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

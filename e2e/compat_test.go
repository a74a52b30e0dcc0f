package e2e

import (
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/listener"
)

// TestClientCompatibility covers what real device clients do that a strict broker might refuse.
func TestClientCompatibility(t *testing.T) {
	emu := startEmulator(t, "")
	d := openDevice(t, emu)

	t.Run("user name without password", func(t *testing.T) {
		// Device SDKs put metrics in the user name of an mTLS CONNECT and send no password.
		opts := paho.NewClientOptions().AddBroker("ssl://" + emu.MQTTAddr()).SetClientID("metrics").
			SetTLSConfig(tlsConfig(t, d)).SetUsername("?SDK=Go&Version=1.5.1&Platform=linux").SetAutoReconnect(false)
		c := paho.NewClient(opts)
		if err := wait(t, c.Connect()); err != nil {
			t.Fatalf("CONNECT with a user name and no password refused: %v", err)
		}
		c.Disconnect(50)
	})

	t.Run("empty client id", func(t *testing.T) {
		// MQTT 3.1.1 lets the server assign an id to a clean session [MQTT-3.1.3-6]; the policy
		// then decides iot:Connect on the assigned id.
		got, err := rawConnect(t, emu.MQTTAddr(), "", tlsConfig(t, d))
		if err != nil || len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
			t.Fatalf("empty client id with clean session: %x %v, want CONNACK accepted", got, err)
		}
		// Any outcome: the record of an accepted connection says "ok" while it is open and the
		// lifecycle reason once rawConnect has dropped it, whichever the lookup sees first.
		rec := transcriptFor(t, emu, func(r listener.Record) bool {
			return r.ClientID != "" && !strings.Contains(r.ClientID, "open") && r.ClientID != "metrics" && r.ClientID != "ip-sni"
		})
		if len(rec.ClientID) < 10 {
			t.Fatalf("assigned client id %q", rec.ClientID)
		}
	})

	t.Run("IP-literal SNI", func(t *testing.T) {
		needTools(t, "mosquitto_pub")
		files := writeDeviceFiles(t, t.TempDir(), d, emu)
		// mosquitto given an IP address sends it as SNI, as some device SDKs do.
		out, err := run(t, "mosquitto_pub", "-h", "127.0.0.1", "-p", portOfAddr(emu.ALPNAddr()), "--tls-alpn", "x-amzn-mqtt-ca",
			"--cafile", files.ca, "--cert", files.cert, "--key", files.key, "-i", "ip-sni", "-t", "compat/ip", "-m", "x", "-q", "1")
		if err != nil {
			t.Fatalf("mosquitto_pub to 127.0.0.1: %v\n%s", err, out)
		}
		rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "ip-sni" && r.Outcome != "" })
		if rec.SNI != "127.0.0.1" || rec.Outcome != "ok" {
			t.Fatalf("transcript SNI %q outcome %q, want 127.0.0.1 and ok", rec.SNI, rec.Outcome)
		}
	})

	t.Run("wildcards under $aws/things", func(t *testing.T) {
		got := make(chan paho.Message, 4)
		c, err := connectPaho(t, emu.MQTTAddr(), "shadow-watcher", tlsConfig(t, d), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Subscribe("$aws/things/lamp/shadow/get/+", 1, collect(got))); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, c.Publish("$aws/things/lamp/shadow/get", 1, false, `{"clientToken":"c1"}`)); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-got:
			if m.Topic() != "$aws/things/lamp/shadow/get/rejected" || !strings.Contains(string(m.Payload()), `"clientToken":"c1"`) {
				t.Fatalf("got %s %s, want get/rejected (no shadow yet) with the clientToken", m.Topic(), m.Payload())
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no answer through the $aws/things wildcard subscription")
		}
	})
}

package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/iotcore-local/iotcore-local/emulator"
	"github.com/iotcore-local/iotcore-local/listener"
	"github.com/iotcore-local/iotcore-local/registry"
)

// TestPubSubBetweenThings sends QoS 0 and QoS 1 messages from one thing to another through both
// MQTT ports: 8883 (no ALPN) and 443 (ALPN x-amzn-mqtt-ca).
func TestPubSubBetweenThings(t *testing.T) {
	emu := startEmulator(t, "")
	sender, receiver := device(t, emu, "sender"), device(t, emu, "receiver")
	ports := []struct {
		name string
		addr string
		alpn []string
	}{
		{"8883", emu.MQTTAddr(), nil},
		{"8883 with ALPN", emu.MQTTAddr(), []string{listener.ProtocolMQTTCA}},
		{"443", emu.ALPNAddr(), []string{listener.ProtocolMQTTCA}},
	}
	for _, port := range ports {
		for _, qos := range []byte{0, 1} {
			t.Run(fmt.Sprintf("%s/qos%d", port.name, qos), func(t *testing.T) {
				got := make(chan paho.Message, 1)
				sub, err := connectPaho(t, port.addr, "receiver", tlsConfig(t, receiver, port.alpn...), nil)
				if err != nil {
					t.Fatalf("receiver connect: %v", err)
				}
				topic := fmt.Sprintf("shared/%s/qos%d", strings.ReplaceAll(port.name, " ", "-"), qos)
				if err := wait(t, sub.Subscribe(topic, qos, func(_ paho.Client, m paho.Message) { got <- m })); err != nil {
					t.Fatalf("subscribe: %v", err)
				}
				pub, err := connectPaho(t, port.addr, "sender", tlsConfig(t, sender, port.alpn...), nil)
				if err != nil {
					t.Fatalf("sender connect: %v", err)
				}
				if err := wait(t, pub.Publish(topic, qos, false, "hello "+port.name)); err != nil {
					t.Fatalf("publish: %v", err)
				}
				select {
				case m := <-got:
					if string(m.Payload()) != "hello "+port.name || m.Topic() != topic || m.Qos() != qos {
						t.Fatalf("got %q on %s qos %d", m.Payload(), m.Topic(), m.Qos())
					}
				case <-time.After(10 * time.Second):
					t.Fatal("message not delivered")
				}
			})
		}
	}
}

// selfSigned makes a certificate the registry has never seen.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "stranger"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestRefusedCertificates: AWS completes the handshake and closes on CONNECT with no CONNACK for
// a certificate that is unknown or not ACTIVE; the transcript says why.
func TestRefusedCertificates(t *testing.T) {
	emu := startEmulator(t, "")
	cases := []struct {
		name   string
		setup  func(t *testing.T) *tls.Config
		reason string
	}{
		{"unregistered", func(t *testing.T) *tls.Config {
			d := device(t, emu, "unregistered-base")
			cfg := tlsConfig(t, d)
			cfg.Certificates = []tls.Certificate{selfSigned(t)}
			return cfg
		}, "is not registered"},
		{"inactive", func(t *testing.T) *tls.Config {
			d := device(t, emu, "inactive")
			if err := emu.Registry().UpdateCertificateStatus(d.CertificateID, registry.StatusInactive); err != nil {
				t.Fatal(err)
			}
			return tlsConfig(t, d)
		}, "is INACTIVE"},
		{"revoked", func(t *testing.T) *tls.Config {
			d := device(t, emu, "revoked")
			if err := emu.Registry().UpdateCertificateStatus(d.CertificateID, registry.StatusRevoked); err != nil {
				t.Fatal(err)
			}
			return tlsConfig(t, d)
		}, "is REVOKED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, addr := range []string{emu.MQTTAddr(), emu.ALPNAddr()} {
				cfg := tc.setup(t)
				cfg.NextProtos = []string{listener.ProtocolMQTTCA}
				clientID := tc.name
				got, err := rawConnect(t, addr, clientID, cfg)
				if err != nil {
					t.Fatalf("%s: %v", addr, err)
				}
				if len(got) != 0 {
					t.Fatalf("%s: server sent %x, want the connection closed with no CONNACK", addr, got)
				}
				rec := transcriptFor(t, emu, func(r listener.Record) bool {
					return r.ClientID == clientID && r.Outcome != "" && strings.HasSuffix(addr, portOf(r.Listener, emu))
				})
				if rec.Outcome != "refused" || !strings.Contains(rec.Detail, tc.reason) {
					t.Fatalf("transcript outcome %q detail %q, want refused with %q", rec.Outcome, rec.Detail, tc.reason)
				}
			}
		})
	}
}

// portOf maps a listener id to the port it is bound to.
func portOf(listenerID string, emu *emulator.Emulator) string {
	addr := emu.MQTTAddr()
	if listenerID == "alpn" {
		addr = emu.ALPNAddr()
	}
	return addr[strings.LastIndex(addr, ":"):]
}

// TestConnectPolicy: a certificate whose policies do not allow iot:Connect for the client id gets
// no CONNACK; the same certificate with the thing's name as client id connects.
func TestConnectPolicy(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "sensor-7")
	got, err := rawConnect(t, emu.MQTTAddr(), "not-sensor-7", tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Fatalf("server sent %x for a client id outside the policy, want no CONNACK", got)
	}
	rec := transcriptFor(t, emu, func(r listener.Record) bool { return r.ClientID == "not-sensor-7" && r.Outcome != "" })
	if rec.Outcome != "refused" || !strings.Contains(rec.Detail, "iot:Connect") {
		t.Fatalf("transcript %q %q, want refused naming iot:Connect", rec.Outcome, rec.Detail)
	}
	got, err = rawConnect(t, emu.MQTTAddr(), "sensor-7", tlsConfig(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 4 || got[0] != 0x20 || got[3] != 0 {
		t.Fatalf("server sent %x, want CONNACK accepted (20 02 00 00)", got)
	}
}

// TestNoPolicyNoConnect: a registered ACTIVE certificate with no policy attached is denied by
// default.
func TestNoPolicyNoConnect(t *testing.T) {
	emu := startEmulator(t, "")
	d, err := emu.CreateDevice("bare", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rawConnect(t, emu.MQTTAddr(), "bare", tlsConfig(t, d)); err != nil || len(got) != 0 {
		t.Fatalf("got %x, %v; want the connection closed with no CONNACK", got, err)
	}
}

// TestDeactivationDropsLiveConnection: setting a connected device's certificate INACTIVE closes
// its connection at once, and it cannot reconnect.
func TestDeactivationDropsLiveConnection(t *testing.T) {
	emu := startEmulator(t, "")
	d := device(t, emu, "doomed")
	lost := make(chan error, 1)
	c, err := connectPaho(t, emu.ALPNAddr(), "doomed", tlsConfig(t, d, listener.ProtocolMQTTCA), func(err error) { lost <- err })
	if err != nil {
		t.Fatal(err)
	}
	if !c.IsConnected() {
		t.Fatal("not connected")
	}
	if err := emu.Registry().UpdateCertificateStatus(d.CertificateID, registry.StatusInactive); err != nil {
		t.Fatal(err)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("connection not dropped after the certificate was deactivated")
	}
	if _, err := connectPaho(t, emu.ALPNAddr(), "doomed", tlsConfig(t, d, listener.ProtocolMQTTCA), nil); err == nil {
		t.Fatal("reconnect with an INACTIVE certificate succeeded")
	}
}

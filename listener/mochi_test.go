package listener

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"
)

// transcriptHook plays the role of the project's hooks in this test only: it finds the *Conn in
// cl.Net.Conn, sets the client id and finishes the transcript "ok" once the session exists.
type transcriptHook struct {
	mqtt.HookBase
	mu     sync.Mutex
	states map[string]tls.ConnectionState
	errs   []error
}

func (h *transcriptHook) ID() string { return "test-transcript" }

func (h *transcriptHook) Provides(b byte) bool {
	return b == mqtt.OnConnect || b == mqtt.OnSessionEstablished
}

func (h *transcriptHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	conn, ok := cl.Net.Conn.(*Conn)
	if !ok {
		h.errs = append(h.errs, errors.New("cl.Net.Conn is not a *listener.Conn"))
		return errors.New("not a listener conn")
	}
	conn.Transcript().SetClient(cl.ID)
	h.states[cl.ID] = conn.ConnectionState()
	return nil
}

func (h *transcriptHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	cl.Net.Conn.(*Conn).Transcript().Finish(OutcomeOK, "connected")
}

// mochiServer is a running mochi broker with one listener of this package.
type mochiServer struct {
	server *mqtt.Server
	l      *Listener
	ring   *Transcripts
	hook   *transcriptHook
	closed bool
}

// startMochi runs mochi (allow-all auth, the test transcript hook) on a KindALPN listener.
func startMochi(t *testing.T, cfg Config) *mochiServer {
	t.Helper()
	p := newTestPKI(t)
	m := &mochiServer{ring: NewTranscripts(16), hook: &transcriptHook{states: map[string]tls.ConnectionState{}}}
	m.server = mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.DiscardHandler)})
	if err := m.server.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := m.server.AddHook(m.hook, nil); err != nil {
		t.Fatal(err)
	}
	cfg.ID, cfg.Address, cfg.Kind = "alpn", "127.0.0.1:0", KindALPN
	cfg.Certificate = func() *tls.Certificate { return &p.server }
	cfg.CertificateStatus = p.certificateStatus
	cfg.Transcripts = m.ring
	cfg.Logger = slog.New(slog.DiscardHandler)
	m.l = New(cfg)
	if err := m.server.AddListener(m.l); err != nil {
		t.Fatalf("AddListener: %v", err)
	}
	if err := m.server.Serve(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	t.Cleanup(func() { m.close(t) })
	return m
}

// close stops the broker, failing the test if mochi's Close hangs.
func (m *mochiServer) close(t *testing.T) {
	t.Helper()
	if m.closed {
		return
	}
	m.closed = true
	done := make(chan struct{})
	go func() { defer close(done); _ = m.server.Close() }()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("mochi Server.Close did not return")
	}
}

// waitRecord waits for the first finished transcript.
func (m *mochiServer) waitRecord(t *testing.T) Record {
	t.Helper()
	var rec Record
	waitFor(t, "a transcript", func() bool {
		recs := m.ring.Records()
		if len(recs) > 0 {
			rec = recs[0]
		}
		return len(recs) > 0
	})
	return rec
}

// TestMochiIntegration runs a real mochi server on this listener and a paho client that connects
// through ALPN x-amzn-mqtt-ca with a client certificate, subscribes and publishes at QoS 1.
func TestMochiIntegration(t *testing.T) {
	p := newTestPKI(t)
	m := startMochi(t, Config{})
	l, hook, ring := m.l, m.hook, m.ring

	tlsCfg := p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true)
	tlsCfg.MinVersion = tls.VersionTLS12
	opts := paho.NewClientOptions().
		AddBroker("ssl://" + l.Address()).
		SetClientID("device-1").
		SetTLSConfig(tlsCfg).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(hangGuard)
	client := paho.NewClient(opts)
	if tok := client.Connect(); !tok.WaitTimeout(hangGuard) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}

	received := make(chan paho.Message, 1)
	if tok := client.Subscribe("devices/device-1/echo", 1, func(_ paho.Client, m paho.Message) { received <- m }); !tok.WaitTimeout(hangGuard) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := client.Publish("devices/device-1/echo", 1, false, "hello"); !tok.WaitTimeout(hangGuard) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case m := <-received:
		if string(m.Payload()) != "hello" || m.Qos() != 1 {
			t.Errorf("received %q at QoS %d", m.Payload(), m.Qos())
		}
	case <-time.After(hangGuard):
		t.Fatal("no message received")
	}

	hook.mu.Lock()
	st, errs := hook.states["device-1"], hook.errs
	hook.mu.Unlock()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if st.NegotiatedProtocol != ProtocolMQTTCA || len(st.PeerCertificates) != 1 ||
		!bytes.Equal(st.PeerCertificates[0].Raw, p.client.Certificate[0]) || st.ServerName != testSNI {
		t.Errorf("hook saw protocol %q, %d peer certificates, SNI %q", st.NegotiatedProtocol, len(st.PeerCertificates), st.ServerName)
	}

	recs := ring.Records()
	if len(recs) != 1 {
		t.Fatalf("transcripts %+v, want 1", recs)
	}
	rec := recs[0]
	if rec.Outcome != OutcomeOK || rec.ClientID != "device-1" || rec.ALPNSelected != ProtocolMQTTCA ||
		!rec.ClientCertRequested || rec.CertificateID != p.clientCertID() || rec.CertificateStatus != "ACTIVE" ||
		rec.Listener != "alpn" || rec.SNI != testSNI {
		t.Errorf("transcript %+v", rec)
	}

	// Server.Close disconnects the client through closeClients and returns.
	m.close(t)
	if _, err := net.Dial("tcp", l.Address()); err == nil {
		t.Error("listener still accepts after Server.Close")
	}
	client.Disconnect(0)
}

// TestMochiFirstPacket: with mochi reading, a handshaken socket that stays silent is closed at
// the CONNECT deadline ("timeout"), and one whose first packet is not CONNECT is closed with
// mochi's reason ("closed before CONNECT").
func TestMochiFirstPacket(t *testing.T) {
	p := newTestPKI(t)
	cases := []struct {
		name    string
		send    []byte
		outcome string
		detail  string
	}{
		{"silent", nil, OutcomeTimeout, "no MQTT CONNECT within 200ms"},
		{"PINGREQ first", []byte{0xc0, 0x00}, OutcomeClosedBeforeConnect, "no MQTT CONNECT accepted: read connection: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := startMochi(t, Config{ConnectTimeout: 200 * time.Millisecond})
			c, _ := dialTLS(t, m.l.Address(), p.clientConfig(tls.VersionTLS13, []string{ProtocolMQTTCA}, true))
			if err := c.Handshake(); err != nil {
				t.Fatal(err)
			}
			if tc.send != nil {
				if _, err := c.Write(tc.send); err != nil {
					t.Fatal(err)
				}
			}
			expectClosedByServer(t, c)
			rec := m.waitRecord(t)
			if rec.Outcome != tc.outcome || !strings.HasPrefix(rec.Detail, tc.detail) {
				t.Errorf("transcript outcome %q detail %q, want %q %q...", rec.Outcome, rec.Detail, tc.outcome, tc.detail)
			}
			t.Logf("transcript: %+v", rec)
		})
	}
}
